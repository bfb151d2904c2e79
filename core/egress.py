"""Which network addresses the gateway may contact on someone else's behalf.

An upstream URL is chosen by whoever may edit a provider; a URL the URL guardrail checks is
chosen by a caller or a model. Neither may steer the gateway at loopback, link-local (cloud
metadata services), private or otherwise non-public addresses unless an operator allowed those
networks. Hosts are checked twice: a literal IP at once, a name by every address it resolves
to, at connect time (``PublicResolver``), so a name that later resolves elsewhere is caught too.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(OSError):
    """A host resolves only to addresses this gateway may not contact."""


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.0/8", "10.1.2.3"]`` → networks; raises ``ValueError`` naming a bad entry."""
    networks = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address or CIDR network.") from None
    return tuple(networks)


def is_public(address: Address) -> bool:
    """Whether ``address`` is a globally routable unicast address."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_global and not address.is_multicast


def address_allowed(address: str | Address, allowed: tuple[Network, ...] = ()) -> bool:
    """Public, or inside one of the operator's ``allowed`` networks."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    if is_public(address):
        return True
    return any(address in network for network in allowed)


def literal_address(host: str) -> Address | None:
    """The IP address ``host`` spells (``[::1]`` included), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve_blocking(host: str) -> list[str]:
    """Every address ``host`` resolves to (blocking: the control plane's checks)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({info[4][0] for info in infos})


def url_host_refusal(url: str, allowed: tuple[Network, ...] = (), *, resolve: bool = True) -> str:
    """Why the gateway may not contact ``url``'s host, or "" when it may. A name that does not
    resolve is not refused here (the connection will fail on its own)."""
    host = urlsplit(url).hostname or ""
    if not host:
        return "The URL has no host."
    literal = literal_address(host)
    if literal is not None:
        addresses = [str(literal)]
    elif host.lower() == "localhost" or host.lower().endswith(".localhost"):
        addresses = ["127.0.0.1"]
    elif resolve:
        try:
            addresses = resolve_blocking(host)
        except (OSError, UnicodeError):
            return ""
    else:
        return ""
    for address in addresses:
        if not address_allowed(address, allowed):
            return f"{host} is a loopback, link-local or private address ({address})."
    return ""


class PublicResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses ``address_allowed`` accepts. A connector
    resolves names through it on every new connection, so DNS cannot later point an allowed
    name at a refused address. (IP literals never reach a resolver: check them with
    ``url_host_refusal`` first.)"""

    def __init__(self, allowed: tuple[Network, ...] = ()) -> None:
        self.allowed = allowed
        self.inner: DefaultResolver | None = None  # made on the loop that first resolves

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self.inner is None:
            self.inner = DefaultResolver()
        results = await self.inner.resolve(host, port, family)
        kept = [r for r in results if address_allowed(r["host"], self.allowed)]
        if not kept:
            raise EgressRefused(f"{host} resolves only to addresses this gateway may not contact.")
        return kept

    async def close(self) -> None:
        if self.inner is not None:
            await self.inner.close()
