"""The filters of the request path, one module each, and the compiler that puts a route's
chain together from its deployment (``compile_chain``)."""

import logging
from typing import Any

from core.egress import url_host_refusal
from gateways.dataplane.chain import Filter, FilterChain
from gateways.dataplane.filters.body import Body
from gateways.dataplane.filters.guardrails import Guardrails, Unavailable, UpstreamRefused
from gateways.dataplane.filters.keys import KeyAuth
from gateways.dataplane.filters.limits import RateLimits
from gateways.dataplane.filters.models import ModelAllowlist
from gateways.dataplane.filters.payload import PayloadLog
from gateways.dataplane.filters.routing import ModelRoundRobin, ProviderFailover
from gateways.dataplane.health import Health
from gateways.dataplane.routes import Route
from guardrails.engine import ChainCompileError
from guardrails.engine import compile_chain as compile_guardrails
from guardrails.limits import Limiter, compile_limits

log = logging.getLogger("gatehouse.gateway")


def compile_chain(
    route: Route,
    deployment: dict[str, Any],
    *,
    limiter: Limiter,
    health: Health,
    max_body: int,
    allowed_networks: tuple = (),
    gateway: str = "",
) -> FilterChain:
    """The filters a route's requests pass, in order: key authentication, body, payload log,
    model allowlist, routing (round robin, failover), guardrails (request phase; the response
    phase runs on the way back), rate limits. A step the deployment does not need is left out.

    Guardrails that cannot be compiled affect only their own route, which then refuses every
    request (503) rather than serve it unguarded."""
    filters: list[Filter] = [KeyAuth(route), Body(route, max_body)]
    if route.allowed_models:
        filters.append(ModelAllowlist(route))
    # An upstream at a literal address this process may not contact (a name is checked by
    # the client's resolver, at every new connection).
    refused = url_host_refusal(route.target.upstream_base, allowed_networks, resolve=False)
    if refused:
        log.error("proxy %s: its upstream is refused: %s", route.proxy, refused)
        return FilterChain([*filters, UpstreamRefused(refused)])
    unreachable = set()
    for provider, target in route.targets.items():
        if url_host_refusal(target.upstream_base, allowed_networks, resolve=False):
            log.error("proxy %s: failover target %s is refused", route.proxy, provider)
            unreachable.add(provider)
    adapter = route.adapter
    attachments = deployment["snapshot"].get("guardrails") or {}
    try:
        proxy = [adapter.guardrail_attachment(a) for a in attachments.get("proxy") or []]
        provider = [adapter.guardrail_attachment(a) for a in attachments.get("provider") or []]
        guardrails = compile_guardrails(proxy, provider)
        limits = compile_limits(proxy, provider)
        # The proxy's own payload log, else its provider's.
        logs = [PayloadLog(gateway, a) for a in proxy + provider if a["policy"] == "payload-log"]
    except Exception as exc:
        detail = str(exc) if isinstance(exc, ChainCompileError) else type(exc).__name__
        log.error(
            "deployment %s of proxy %s: guardrails could not be compiled (%s); the proxy "
            "answers 503 until it is redeployed",
            deployment.get("id"),
            route.proxy,
            detail,
        )
        return FilterChain([*filters, Unavailable()])
    if logs:
        filters.insert(2, logs[0])  # right after the body is read
    filters.extend(routing_filters(route, proxy + provider, health, unreachable))
    if guardrails:
        filters.append(Guardrails(adapter, guardrails))
    if limits:
        filters.append(RateLimits(limiter, limits))
    return FilterChain(filters)


def routing_filters(
    route: Route, attachments: list[dict[str, Any]], health: Health, refused: set[str]
) -> list:
    """The routing steps the attachments ask for: round robins choose the model, failover
    lists where else to try (never a provider at a ``refused`` address)."""
    steps: list[Filter] = []
    for attachment in attachments:
        policy = attachment.get("policy")
        if policy in ("model-round-robin", "model-weighted-round-robin"):
            steps.append(ModelRoundRobin(route, attachment, health))
        elif policy == "provider-failover":
            steps.append(ProviderFailover(route, attachment, refused))
    return steps
