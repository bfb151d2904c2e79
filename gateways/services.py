"""Writes for gateways, their tokens and the heartbeats of gateway processes."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ValidationFailed, validated_save
from core.revision import bump_config_revision
from deployments.models import CURRENT_STATUSES
from gateways.errors import GatewayExists, GatewayHasActiveDeployments, GatewayTokenLimitReached
from gateways.models import (
    Gateway,
    GatewayProcess,
    GatewayToken,
    GatewayTokenStatus,
    UsageRecord,
)
from proxies import crypto
from proxies.identifiers import unique_slug

GATEWAY_FIELDS = {"name", "description", "base_url", "environment"}
# What a routing target can be, besides closed (healthy, never reported): a circuit open or
# half-open (probing), or a round robin's model suspended.
CIRCUIT_STATES = ("open", "half_open", "suspended")


@transaction.atomic
def gateway_create(
    *, name: str, base_url: str, description: str = "", environment: str = ""
) -> Gateway:
    """Register a gateway; it reads Not Active until a gateway process serving it starts."""
    name = (name or "").strip()
    if Gateway.objects.filter(name__iexact=name).exists():
        raise GatewayExists(
            f"A gateway named '{name}' already exists.",
            errors=[{"field": "name", "message": "This name is taken."}],
        )
    gateway = Gateway(
        slug=unique_slug(Gateway, name) if name else "",
        name=name,
        base_url=(base_url or "").rstrip("/"),
        description=description or "",
        environment=environment or "production",
    )
    try:
        validated_save(gateway)
    except IntegrityError:
        raise GatewayExists(f"A gateway named '{name}' already exists.") from None
    return gateway


@transaction.atomic
def gateway_update(*, gateway: Gateway, **fields: Any) -> Gateway:
    unknown = set(fields) - GATEWAY_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown gateway fields: {', '.join(sorted(unknown))}.")
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if Gateway.objects.filter(name__iexact=fields["name"]).exclude(pk=gateway.pk).exists():
            raise GatewayExists(
                f"A gateway named '{fields['name']}' already exists.",
                errors=[{"field": "name", "message": "This name is taken."}],
            )
    if "base_url" in fields:
        fields["base_url"] = (fields["base_url"] or "").rstrip("/")
    for key, value in fields.items():
        setattr(gateway, key, value)
    validated_save(gateway)
    return gateway


@transaction.atomic
def gateway_delete(*, gateway: Gateway) -> None:
    """Delete a gateway; refused while any proxy is deployed on it."""
    live = gateway.deployments.filter(status__in=CURRENT_STATUSES)
    if live.exists():
        proxies = ", ".join(live.values_list("proxy__slug", flat=True)[:5])
        raise GatewayHasActiveDeployments(
            f"Gateway '{gateway.slug}' still serves deployments ({proxies}); stop them first."
        )
    gateway.delete()


@transaction.atomic
def gateway_token_create(*, gateway: Gateway) -> tuple[GatewayToken, str]:
    """Issue a registration token (at most two active); the secret is returned once."""
    Gateway.objects.select_for_update().get(pk=gateway.pk)
    active = gateway.tokens.filter(status=GatewayTokenStatus.ACTIVE).count()
    if active >= GatewayToken.MAX_ACTIVE:
        raise GatewayTokenLimitReached(
            f"A gateway may have at most {GatewayToken.MAX_ACTIVE} active tokens; revoke one first."
        )
    secret = crypto.new_secret(GatewayToken.PREFIX)
    token = GatewayToken.objects.create(
        gateway=gateway,
        token_hash=crypto.hash_secret(secret),
        masked=crypto.mask(secret, GatewayToken.PREFIX),
    )
    bump_config_revision()  # gateway processes learn the tokens they accept at once
    return token, secret


@transaction.atomic
def gateway_token_revoke(*, token: GatewayToken) -> GatewayToken:
    if token.status != GatewayTokenStatus.REVOKED:
        token.status = GatewayTokenStatus.REVOKED
        token.revoked_at = timezone.now()
        token.save(update_fields=["status", "revoked_at"])
        bump_config_revision()  # a process holding it stops serving within a second
    return token


def gateway_process_heartbeat(
    *,
    gateway: Gateway,
    instance_id: str,
    hostname: str = "",
    pid: int | None = None,
    address: str = "",
    snapshot_version: str = "",
    circuits: Sequence[dict[str, Any]] = (),
) -> None:
    """Record that a gateway process is alive (called from its background thread), with the
    routing targets it sees failing: ``circuits`` rows ``{"proxy", "target", "state",
    "until", "failures"}`` (state ``open``, ``half_open`` or ``suspended``; ``until`` in
    epoch seconds or None). Malformed rows are dropped, never trusted."""
    now = timezone.now()
    reported = [row for row in map(circuit_row, circuits) if row is not None]
    updated = GatewayProcess.objects.filter(instance_id=instance_id).update(
        last_seen_at=now, snapshot_version=snapshot_version, circuits=reported
    )
    if not updated:
        GatewayProcess.objects.create(
            gateway=gateway,
            instance_id=instance_id,
            hostname=hostname,
            pid=pid,
            address=address,
            snapshot_version=snapshot_version,
            circuits=reported,
            started_at=now,
            last_seen_at=now,
        )


def circuit_row(row: Any) -> dict[str, Any] | None:
    """One reported circuit in its stored shape, or None when it is not one."""
    if not isinstance(row, dict):
        return None
    proxy, target, state = row.get("proxy"), row.get("target"), row.get("state")
    until, failures = row.get("until"), row.get("failures") or 0
    if not (isinstance(proxy, str) and isinstance(target, str) and state in CIRCUIT_STATES):
        return None
    if until is not None and (isinstance(until, bool) or not isinstance(until, int | float)):
        return None
    if isinstance(failures, bool) or not isinstance(failures, int):
        return None
    return {
        "proxy": proxy[:40],
        "target": target[:250],
        "state": state,
        "until": float(until) if until is not None else None,
        "failures": failures,
    }


def gateway_process_stopped(*, instance_id: str) -> None:
    """A gateway process is shutting down cleanly: it stops counting towards Active at once."""
    GatewayProcess.objects.filter(instance_id=instance_id).delete()


def usage_prune(*, older_than_days: int) -> int:
    """Delete usage records older than the retention period; returns how many went."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = UsageRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
