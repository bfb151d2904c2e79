"""Where an upstream attempt goes: a ``Target`` is one provider as this gateway process calls
it (adapter, URL, credentials, timeouts), built with every snapshot (credentials rotate without
a redeploy); an ``Attempt`` is a target asked for a model, in the order a call tries them."""

import hashlib
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientTimeout
from yarl import URL

from gateways.dataplane.adapters import ProviderAdapter, adapter_for

DEFAULT_CONNECT = 10.0
DEFAULT_READ = 120.0


class KeyPool:
    """A provider's upstream keys, as the headers that carry each, taken in rotation. A key
    the upstream refused or throttled rests for a while (``gateways.dataplane.health``), and
    the next one is taken."""

    __slots__ = ("fingerprints", "headers", "turn")

    def __init__(self, headers: list[list[tuple[str, str]]], fingerprints: list[str]):
        self.headers = headers
        self.fingerprints = fingerprints  # which key is which, without the key itself
        self.turn = 0

    def take(self, resting) -> tuple[str, list[tuple[str, str]]]:
        """The next key's fingerprint and headers, skipping keys ``resting(fingerprint)``
        says rest (all resting: the next one all the same)."""
        size = len(self.headers)
        for _ in range(size):
            index = self.turn % size
            self.turn += 1
            if not resting(self.fingerprints[index]):
                return self.fingerprints[index], self.headers[index]
        index = self.turn % size
        self.turn += 1
        return self.fingerprints[index], self.headers[index]


@dataclass(eq=False, slots=True)
class Target:
    """One provider as this process calls it."""

    provider: str
    adapter: ProviderAdapter
    upstream_base: str
    auth_headers: list[tuple[str, str]]  # the one key's headers (or none)
    keys: KeyPool | None  # several keys, in rotation (then ``auth_headers`` is empty)
    signer: Any  # signs each request where the credential is a signing key (AWS SigV4)
    timeout: ClientTimeout
    first_byte: float | None  # seconds until the upstream's answer starts, or no bound


@dataclass(eq=False, slots=True)
class Attempt:
    """A target asked for ``model`` ("" keeps the request's), as a call's plan lists them."""

    target: Target
    model: str = ""

    @property
    def name(self) -> str:
        """How records and circuit breakers name it: ``provider`` or ``provider/model``."""
        return f"{self.target.provider}/{self.model}" if self.model else self.target.provider


@dataclass(slots=True)
class Plan:
    """How a routed call reaches an upstream: the attempts in order, which failures move on
    to the next one, and within which bounds."""

    attempts: list[Attempt]
    retry_on: frozenset[str] = frozenset()  # "429", "5xx", "connect", "timeout", "401"
    max_attempts: int = 1
    backoff_initial: float = 0.1  # seconds, doubling per retry, with jitter ...
    backoff_max: float = 2.0  # ... up to this
    deadline: float | None = None  # a ``time.perf_counter()`` past which nothing is tried
    breaker: Any = None  # a ``health.BreakerPolicy``, or None: no circuit breaking


def fingerprint(credential: str) -> str:
    """A short name for a key that does not reveal it (for key rest and logs)."""
    return hashlib.sha256(credential.encode()).hexdigest()[:12]


def build_target(provider: dict[str, Any], credential: Any) -> Target:
    """The target for a provider's snapshot and its live credential: one key (a string),
    several (a list: a key pool), or what the adapter signs with (AWS credentials)."""
    adapter = adapter_for(provider)
    base = (provider.get("upstream_url") or "").rstrip("/")
    upstream_base = str(URL(base)) if base else ""
    auth = provider.get("upstream_auth") or {}
    header, prefix = auth.get("header", ""), auth.get("prefix", "")
    keys = None
    auth_headers: list[tuple[str, str]] = []
    if isinstance(credential, list) and len(credential) > 1:
        keys = KeyPool(
            [adapter.auth_headers(header, prefix, key) for key in credential],
            [fingerprint(key) for key in credential],
        )
    else:
        single = credential[0] if isinstance(credential, list) and credential else credential
        if isinstance(single, str) or not single:
            auth_headers = adapter.auth_headers(header, prefix, single or "")
    timeouts = provider.get("timeouts") or {}
    total = timeouts.get("total")
    first_byte = timeouts.get("first_byte")
    return Target(
        provider=provider["id"],
        adapter=adapter,
        upstream_base=upstream_base,
        auth_headers=auth_headers,
        keys=keys,
        signer=adapter.upstream_signer(credential, upstream_base),
        timeout=ClientTimeout(
            total=float(total) if total else None,
            sock_connect=float(timeouts.get("connect") or DEFAULT_CONNECT),
            sock_read=float(timeouts.get("read") or DEFAULT_READ),
        ),
        first_byte=float(first_byte) if first_byte else None,
    )
