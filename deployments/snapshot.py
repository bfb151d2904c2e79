"""The deployment snapshot: a proxy's effective configuration (proxy + provider settings +
guardrail chains, and the providers its failover policies fall back to) as plain JSON.
Deploying copies it; gateways serve only what it says."""

import hashlib
from typing import Any

import orjson

from guardrails.models import GuardrailAttachment
from guardrails.routing import failover_target_slugs
from proxies.models import Provider, Proxy
from proxies.selectors import effective_inbound_key

SNAPSHOT_SCHEMA = 1


def _chain(**owner: Any) -> list[dict[str, Any]]:
    rows = GuardrailAttachment.objects.filter(enabled=True, **owner).order_by("order", "id")
    return [
        {"id": a.pk, "policy": a.policy, "version": a.policy_version, "params": a.params}
        for a in rows
    ]


def build_proxy_snapshot(proxy: Proxy) -> dict[str, Any]:
    """Everything a gateway needs to serve ``proxy``, except secrets (loaded live, so a
    credential rotates without a redeploy). ``providers`` holds every provider a
    provider-failover policy of the proxy or of its provider names as a target."""
    provider = proxy.provider
    chains = {"proxy": _chain(proxy=proxy), "provider": _chain(provider=provider)}
    targets = failover_target_slugs(chains["proxy"] + chains["provider"])
    return {
        "schema": SNAPSHOT_SCHEMA,
        "proxy": {
            "id": proxy.slug,
            "name": proxy.name,
            "version": proxy.version,
            "context": proxy.context,
            "resources": proxy.resources,
            "inbound_key": effective_inbound_key(proxy),
        },
        "provider": provider_snapshot(provider),
        "providers": {
            p.slug: provider_snapshot(p)
            for p in Provider.objects.filter(slug__in=targets).select_related("template")
        },
        "guardrails": chains,
    }


def provider_snapshot(provider: Provider) -> dict[str, Any]:
    """How a gateway calls one provider: upstream, template details and settings."""
    template = provider.template
    return {
        "id": provider.slug,
        "name": provider.name,
        "template": template.slug,
        "adapter": template.adapter,
        "upstream_url": provider.upstream_url,
        "upstream_auth": {
            "header": template.upstream_auth_header,
            "prefix": template.upstream_auth_prefix,
        },
        "access_control": {
            "mode": provider.access_mode,
            "exceptions": provider.access_exceptions,
        },
        "allowed_models": provider.allowed_models,
        "model_location": template.model_location,
        "usage_paths": template.usage_paths,
        "timeouts": {
            "connect": provider.connect_timeout,
            "read": provider.read_timeout,
            "first_byte": provider.first_byte_timeout,
            "total": provider.total_timeout,
        },
        "stream_usage": provider.stream_usage,
    }


def snapshot_digest(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS)).hexdigest()
