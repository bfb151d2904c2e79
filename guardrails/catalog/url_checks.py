"""The URL guardrail's network side: where a check may go and the one HTTP client it goes with.

A URL the guardrail checks is chosen by a caller or a model, so a check never contacts a
loopback, link-local, private or otherwise non-public address unless the operator allowed
its network (``GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS``): a literal address is refused
before anything is sent, a name by ``PublicResolver`` when it is resolved, at connect time.
A refused URL reads as invalid, like one that does not answer, so a check says nothing about
what listens where.

Every check of the process goes through one aiohttp session, created on first use on the
running loop, and at most ``MAX_IN_FLIGHT`` checks of one text are in flight at once. The
gateway closes the session at shutdown with ``close_url_check_client``.
"""

import asyncio
import functools
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings

from core.egress import Network, PublicResolver, parse_networks, url_host_refusal

# Checks of one text in flight at once; the rest wait their turn.
MAX_IN_FLIGHT = 10
# Connections the shared session keeps open across all checks of the process.
MAX_CONNECTIONS = 100


@functools.cache
def parse_allowed(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def allowed_networks() -> tuple[Network, ...]:
    """The networks outside the public internet that checks may reach (the setting, parsed);
    raises ``ValueError`` naming a bad entry."""
    values = tuple(settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS)
    try:
        return parse_allowed(values)
    except ValueError as exc:
        raise ValueError(f"GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS: {exc}") from None


class URLCheckClient:
    """The process's session for URL checks, bound to the loop and the allowed networks it
    was created for (a gateway process has one of each; tests may change either)."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.resolver: PublicResolver | None = None
        self.allowed: tuple[Network, ...] = ()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def current(self, allowed: tuple[Network, ...]) -> aiohttp.ClientSession:
        """The shared session, created on the running loop when there is none yet."""
        loop = asyncio.get_running_loop()
        while self.session is not None and not self.session.closed:
            if self.loop is loop and self.allowed == allowed:
                return self.session
            await self.close()
        self.resolver = PublicResolver(allowed)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self.resolver, limit=MAX_CONNECTIONS),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )
        self.allowed = allowed
        self.loop = loop
        return self.session

    async def close(self) -> None:
        session, self.session = self.session, None
        if session is None or session.closed:
            return
        if self.loop is asyncio.get_running_loop():
            await session.close()
        else:
            # Its loop has finished (a test's): nothing can run there any more.
            session.detach()


CLIENT = URLCheckClient()


async def close_url_check_client() -> None:
    """Close the shared session of URL checks (at gateway shutdown); the next check opens a
    new one."""
    await CLIENT.close()


async def head_succeeds(session: aiohttp.ClientSession, url: str, timeout: float) -> bool:
    """Whether ``url`` answers a HEAD request with 200-399 (redirects are not followed)."""
    try:
        async with session.head(
            url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return 200 <= response.status < 400
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError, UnicodeError):
        return False


async def name_resolves(resolver: PublicResolver, url: str, timeout: float) -> bool:
    """Whether ``url``'s host resolves to at least one address checks may reach."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    try:
        await asyncio.wait_for(resolver.resolve(host, 0, socket.AF_UNSPEC), timeout)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        return False
    return True


def refused(url: str, allowed: tuple[Network, ...]) -> bool:
    """Whether ``url`` names a host checks may not contact, known without resolving it (a
    literal address, "localhost"), or is not a URL at all."""
    try:
        return bool(url_host_refusal(url, allowed, resolve=False))
    except ValueError:
        return True


async def invalid_urls(
    urls: Iterable[str], *, only_dns: bool, timeout: float, allowed: tuple[Network, ...]
) -> list[str]:
    """The URLs of ``urls`` that fail their check, in order: refused ones without a request,
    the others at most ``MAX_IN_FLIGHT`` at a time over the shared session."""
    urls = list(urls)
    session = await CLIENT.current(allowed)
    resolver = CLIENT.resolver
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def passes(url: str) -> bool:
        if refused(url, allowed):
            return False
        async with gate:
            if only_dns:
                return await name_resolves(resolver, url, timeout)
            return await head_succeeds(session, url, timeout)

    results = await asyncio.gather(*(passes(url) for url in urls))
    return [url for url, ok in zip(urls, results, strict=True) if not ok]
