"""Reads for deployments: history with tags, out-of-date checks, what a gateway serves, and
the state of a deployed proxy's routing targets as its gateways see them."""

import uuid
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from core.revision import current_config_revision
from deployments.errors import DeploymentNotFound
from deployments.models import CURRENT_STATUSES, Deployment, DeploymentStatus
from deployments.snapshot import build_proxy_snapshot, snapshot_digest
from gateways.models import Gateway, GatewayProcess, heartbeat_cutoff
from gateways.selectors import gateway_token_hashes, gateway_tokens_required
from guardrails.catalog.routing import ModelRouting, ProviderFailover, routing_targets
from guardrails.registry import get_policy
from proxies import crypto
from proxies.key_pool import credential_value
from proxies.models import APIKey, APIKeyStatus, Provider, Proxy


def deployment_get(*, deployment_id, proxy: Proxy | None = None) -> Deployment:
    """A deployment by UUID, within ``proxy``'s history when given."""
    deployments = Deployment.objects if proxy is None else proxy.deployments
    try:
        return deployments.select_related("proxy", "gateway").get(pk=uuid.UUID(str(deployment_id)))
    except (Deployment.DoesNotExist, ValueError):
        where = f" of proxy '{proxy.slug}'" if proxy is not None else ""
        raise DeploymentNotFound(f"No deployment '{deployment_id}'{where}.") from None


def deployments_for(*, proxy: Proxy | None = None, gateway: Gateway | None = None) -> QuerySet:
    qs = Deployment.objects.select_related("proxy", "gateway", "created_by")
    if proxy is not None:
        qs = qs.filter(proxy=proxy)
    if gateway is not None:
        qs = qs.filter(gateway=gateway)
    return qs.order_by("-created_at")


def current_deployment(*, proxy: Proxy, gateway: Gateway) -> Deployment | None:
    return Deployment.objects.filter(
        proxy=proxy, gateway=gateway, status__in=CURRENT_STATUSES
    ).first()


def history_tags(deployment: Deployment, latest_ids: set) -> list[str]:
    """Tags shown on the history timeline: Latest (newest for its gateway) and Deployed."""
    tags = []
    if deployment.pk in latest_ids:
        tags.append("Latest")
    if deployment.status == DeploymentStatus.DEPLOYED:
        tags.append("Deployed")
    return tags


def latest_ids(deployments) -> set:
    """IDs of the newest deployment per gateway among ``deployments``."""
    seen, ids = set(), set()
    for d in sorted(deployments, key=lambda d: d.created_at, reverse=True):
        if d.gateway_id not in seen:
            seen.add(d.gateway_id)
            ids.add(d.pk)
    return ids


def is_out_of_date(deployment: Deployment) -> bool:
    """True when the proxy, its provider or their guardrails changed since the snapshot."""
    return snapshot_digest(build_proxy_snapshot(deployment.proxy)) != deployment.snapshot_digest


def gateway_runtime_config(gateway: Gateway) -> dict[str, Any]:
    """Everything a gateway process holds in memory: the live deployments on it, the keys
    that may call them there, and the decrypted upstream credentials they need (of every
    provider a snapshot names, failover targets included): a string (an API key, AWS
    Bedrock's JSON object, or "" for none) or a list of strings for a key pool."""
    revision = current_config_revision()
    deployments = list(
        Deployment.objects.filter(gateway=gateway, status=DeploymentStatus.DEPLOYED)
        .select_related("proxy")
        .order_by("created_at")
    )
    proxy_ids = [d.proxy_id for d in deployments]
    now = timezone.now()
    keys, other_gateway_keys = [], []
    for key in (
        APIKey.objects.filter(proxy_id__in=proxy_ids, status=APIKeyStatus.ACTIVE)
        .select_related("proxy")
        .prefetch_related("gateways")
    ):
        restricted = [g.pk for g in key.gateways.all()]
        if restricted and gateway.pk not in restricted:
            other_gateway_keys.append(key.key_hash)  # rejected here with 403, not 401
            continue
        if key.expires_at and key.expires_at <= now:
            continue
        keys.append(
            {
                "id": str(key.pk),
                "hash": key.key_hash,
                "proxy": key.proxy.slug,
                "expires_at": key.expires_at.timestamp() if key.expires_at else None,
            }
        )
    provider_ids = set()
    for d in deployments:
        provider_ids.add(d.snapshot["provider"]["id"])
        provider_ids.update(d.snapshot.get("providers") or {})
    credentials = {
        p.slug: credential_value(crypto.decrypt(p.credential_ciphertext))
        for p in Provider.objects.filter(slug__in=provider_ids)
    }
    token_hashes = gateway_token_hashes(gateway)
    return {
        "revision": revision,
        "gateway": {"id": gateway.slug, "name": gateway.name, "base_url": gateway.base_url},
        # Which registration tokens a process must present (see gateways.dataplane.runtime).
        "tokens_required": gateway_tokens_required(gateway),
        "token_hashes": token_hashes,
        "deployments": [
            {"id": str(d.pk), "name": d.name, "snapshot": d.snapshot} for d in deployments
        ],
        "keys": keys,
        "other_gateway_keys": other_gateway_keys,
        "credentials": credentials,
    }


# Worst first: what a target shows when the gateways' processes see it differently.
STATE_SEVERITY = {"closed": 0, "half_open": 1, "suspended": 2, "open": 3}


def snapshot_routing_targets(snapshot: dict[str, Any]) -> list[dict[str, str]]:
    """What a deployed proxy may call, as circuit breakers name it (``target``:
    ``provider`` or ``provider/model``): its own provider, then the targets of its
    provider-failover policy, then the models of its round robin. ``role`` says which."""
    home = snapshot["provider"]["id"]
    rows = [{"target": home, "provider": home, "model": "", "role": "primary"}]
    chains = snapshot.get("guardrails") or {}
    attachments = (chains.get("proxy") or []) + (chains.get("provider") or [])
    for attachment in attachments:
        if attachment["policy"] == ProviderFailover.name:
            for target in routing_targets(attachment["params"] or {}):
                name = "/".join(part for part in (target["provider"], target["model"]) if part)
                rows.append({"target": name, **target, "role": "failover"})
    for attachment in attachments:
        policy = get_policy(attachment["policy"])
        if policy is not None and issubclass(policy, ModelRouting):
            for row in (attachment["params"] or {}).get("models") or []:
                model = row["model"]
                rows.append(
                    {"target": f"{home}/{model}", "provider": home, "model": model, "role": "model"}
                )
    unique: dict[str, dict[str, str]] = {}
    for row in rows:
        unique.setdefault(row["target"], row)
    return list(unique.values())


def proxy_routing_state(proxy: Proxy) -> dict[str, Any]:
    """The routing targets of ``proxy``'s current deployments, each with the state the active
    processes of their gateways report (worst wins: open, suspended, half-open, closed),
    when it lasts ``until``, its ``failures`` and which processes see it so. Targets a
    process reports that no current snapshot names (a deployment being replaced) follow."""
    deployments = list(
        Deployment.objects.filter(proxy=proxy, status__in=CURRENT_STATUSES)
        .select_related("gateway")
        .order_by("gateway__name")
    )
    targets: dict[str, dict[str, Any]] = {}
    for deployment in deployments:
        for row in snapshot_routing_targets(deployment.snapshot):
            targets.setdefault(row["target"], {**row, "reports": []})
    processes = GatewayProcess.objects.filter(
        gateway_id__in={d.gateway_id for d in deployments}, last_seen_at__gte=heartbeat_cutoff()
    ).select_related("gateway")
    for process in processes.order_by("gateway__name", "hostname", "pid"):
        for reported in process.circuits or []:
            if not isinstance(reported, dict) or reported.get("proxy") != proxy.slug:
                continue
            name = str(reported.get("target") or "")
            provider, _, model = name.partition("/")
            target = targets.setdefault(
                name,
                {
                    "target": name,
                    "provider": provider,
                    "model": model,
                    "role": "reported",
                    "reports": [],
                },
            )
            target["reports"].append(
                {
                    "gateway": process.gateway.slug,
                    "instance_id": process.instance_id,
                    "hostname": process.hostname,
                    "pid": process.pid,
                    "state": reported.get("state") or "closed",
                    "until": _moment(reported.get("until")),
                    "failures": reported.get("failures") or 0,
                }
            )
    return {
        "proxy": proxy.slug,
        "gateways": [d.gateway.slug for d in deployments],
        "targets": [_worst(target) for target in targets.values()],
    }


def _worst(target: dict[str, Any]) -> dict[str, Any]:
    reports = target.pop("reports")
    state = max((r["state"] for r in reports), key=STATE_SEVERITY.get, default="closed")
    seeing = [r for r in reports if r["state"] == state]
    untils = [r["until"] for r in seeing if r["until"] is not None]
    return {
        **target,
        "state": state,
        "until": max(untils) if untils else None,
        "failures": max((r["failures"] for r in seeing), default=0),
        "processes": seeing,
    }


def _moment(epoch: Any) -> datetime | None:
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return datetime.fromtimestamp(epoch, tz=UTC)
    return None
