"""Reads for gateways: lookup and Active / Not Active status."""

import uuid

from django.db.models import Exists, OuterRef, QuerySet

from gateways.errors import GatewayNotFound, GatewayTokenNotFound
from gateways.models import (
    Gateway,
    GatewayProcess,
    GatewayToken,
    GatewayTokenStatus,
    heartbeat_cutoff,
)


def gateway_get(slug: str) -> Gateway:
    try:
        return Gateway.objects.get(slug=slug)
    except Gateway.DoesNotExist:
        raise GatewayNotFound(
            f"No gateway '{slug}'.",
            errors=[{"field": "gateway", "message": f"Unknown gateway '{slug}'."}],
        ) from None


def gateways_with_status() -> QuerySet[Gateway]:
    """Gateways annotated with ``is_active``: a process has sent a heartbeat recently."""
    recent = GatewayProcess.objects.filter(
        gateway=OuterRef("pk"), last_seen_at__gte=heartbeat_cutoff()
    )
    return Gateway.objects.annotate(is_active=Exists(recent))


def gateway_is_active(gateway: Gateway) -> bool:
    return gateway.processes.filter(last_seen_at__gte=heartbeat_cutoff()).exists()


def gateway_token_get(*, gateway: Gateway, token_id) -> GatewayToken:
    try:
        return gateway.tokens.get(pk=uuid.UUID(str(token_id)))
    except (GatewayToken.DoesNotExist, ValueError):
        raise GatewayTokenNotFound(f"No token '{token_id}' on gateway '{gateway.slug}'.") from None


def gateway_token_hashes(gateway: Gateway) -> list[str]:
    """The hashes of the gateway's active registration tokens."""
    return list(
        GatewayToken.objects.filter(gateway=gateway, status=GatewayTokenStatus.ACTIVE)
        .order_by("created_at")
        .values_list("token_hash", flat=True)
    )


def gateway_tokens_required(gateway: Gateway) -> bool:
    """Whether the gateway's processes must present a registration token: once it has had
    any (revoking every one stops its processes rather than opening it again)."""
    return GatewayToken.objects.filter(gateway=gateway).exists()
