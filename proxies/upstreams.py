"""Where an upstream may live.

Whoever may edit a provider or a template chooses where gateways connect and send the
provider's credential. So an upstream URL may not name a loopback, link-local (cloud metadata),
private or otherwise non-public address unless the operator allowed that network
(``GATEHOUSE_ALLOWED_PRIVATE_NETWORKS``), and it may not point back at Gatehouse itself: a
gateway's host, or a host the control plane answers to (``ALLOWED_HOSTS``).

On this machine's loopback or an allowed private network several servers share one address
(the development demo runs its fake upstream beside the gateway), so there a gateway is told
apart by its port too, and ``ALLOWED_HOSTS`` (which has no ports) is not consulted.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from core.egress import is_public, literal_address, parse_networks, url_host_refusal
from gateways.models import Gateway
from proxies.errors import UpstreamAddressRefused

DEFAULT_PORTS = {"http": 80, "https": 443}


def upstream_url_refusal(url: str) -> str:
    """Why gateways may not use ``url`` as an upstream, or "" when they may."""
    try:
        allowed = parse_networks(settings.GATEHOUSE_ALLOWED_PRIVATE_NETWORKS)
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError as exc:
        return str(exc)
    if not parts.hostname:
        return ""  # not a URL at all: the URL field's validation says so
    refusal = url_host_refusal(url, allowed)
    if refusal:
        return (
            f"{refusal} An upstream must be public unless its network is in "
            "GATEHOUSE_ALLOWED_PRIVATE_NETWORKS."
        )
    host = parts.hostname.lower()
    local = _is_local(host)
    for gateway in Gateway.objects.only("name", "base_url"):
        gateway_host, gateway_port = _host_and_port(gateway.base_url)
        if host == gateway_host and (not local or port == gateway_port):
            return (
                f"{host} is where the gateway '{gateway.name}' is reached; an upstream may not "
                "point back at Gatehouse."
            )
    hosts = [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"]
    if not local and validate_host(f"[{host}]" if ":" in host else host, hosts):
        return f"{host} is a host Gatehouse answers to; an upstream may not point back at it."
    return ""


def check_upstream_url(url: str, *, field: str = "upstream_url") -> None:
    """Raise ``UpstreamAddressRefused`` (a field error on ``field``) unless ``url`` is allowed."""
    refusal = upstream_url_refusal(url)
    if refusal:
        raise UpstreamAddressRefused(refusal, errors=[{"field": field, "message": refusal}])


def _host_and_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port out of range: no upstream can share it
        port = None
    return (parts.hostname or "").lower(), port


def _is_local(host: str) -> bool:
    """A non-public address or a name for this machine (public names resolve elsewhere)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = literal_address(host)
    return address is not None and not is_public(address)
