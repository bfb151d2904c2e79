"""Deploy, stop, restore and prune deployments of proxies on gateways."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.revision import bump_config_revision
from deployments.errors import (
    DeploymentActive,
    DeploymentConflict,
    DeploymentNotActive,
    DeploymentRestoreConflict,
)
from deployments.models import CURRENT_STATUSES, Deployment, DeploymentStatus
from deployments.snapshot import build_proxy_snapshot, snapshot_digest
from gateways.models import Gateway
from proxies.models import Provider, Proxy


@transaction.atomic
def deploy(*, proxy: Proxy, gateway: Gateway, user=None, reason: str = "") -> Deployment:
    """Snapshot the proxy's current configuration and make it the one ``gateway`` serves."""
    Proxy.objects.select_for_update().get(pk=proxy.pk)  # one deploy per proxy at a time
    proxy.refresh_from_db()
    return _activate(
        proxy=proxy, gateway=gateway, snapshot=build_proxy_snapshot(proxy), user=user, reason=reason
    )


@transaction.atomic
def restore(*, deployment: Deployment, user=None, reason: str = "") -> Deployment:
    """Serve an earlier snapshot again, as a new deployment that records where it came from."""
    Proxy.objects.select_for_update().get(pk=deployment.proxy_id)
    deployment.refresh_from_db()
    if deployment.status == DeploymentStatus.DEPLOYED:
        raise DeploymentRestoreConflict(
            f"Deployment {deployment.name} is already the one deployed on this gateway."
        )
    provider_id = deployment.snapshot.get("provider", {}).get("id")
    if not Provider.objects.filter(slug=provider_id).exists():
        raise DeploymentConflict(
            f"Deployment {deployment.name} uses provider '{provider_id}', which no longer exists."
        )
    return _activate(
        proxy=deployment.proxy,
        gateway=deployment.gateway,
        snapshot=deployment.snapshot,
        user=user,
        reason=reason or f"Restored from {deployment.name}",
        restored_from=deployment,
    )


def _activate(*, proxy, gateway, snapshot, user, reason, restored_from=None) -> Deployment:
    current = (
        Deployment.objects.select_for_update()
        .filter(proxy=proxy, gateway=gateway, status__in=CURRENT_STATUSES)
        .first()
    )
    if current is not None:
        current.status = DeploymentStatus.ARCHIVED
        current.save(update_fields=["status", "updated_at"])
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                name=_next_name(proxy, gateway),
                proxy=proxy,
                gateway=gateway,
                status=DeploymentStatus.DEPLOYED,
                snapshot=snapshot,
                snapshot_digest=snapshot_digest(snapshot),
                restored_from=restored_from,
                reason=reason or "",
                created_by=user if getattr(user, "pk", None) else None,
            )
    except IntegrityError:
        raise DeploymentConflict(
            "Another deployment of this proxy to this gateway happened at the same time; retry."
        ) from None
    _prune_history(proxy, gateway)
    bump_config_revision()
    return deployment


def _next_name(proxy: Proxy, gateway: Gateway) -> str:
    """``{gateway}_{YYYY-MM-DD}_{n}`` with n one more than the day's highest."""
    prefix = f"{gateway.slug}_{timezone.localdate().isoformat()}_"
    names = Deployment.objects.filter(
        proxy=proxy, gateway=gateway, name__startswith=prefix
    ).values_list("name", flat=True)
    highest = max(
        (int(n.rsplit("_", 1)[1]) for n in names if n.rsplit("_", 1)[1].isdigit()), default=0
    )
    return f"{prefix}{highest + 1}"


def _prune_history(proxy: Proxy, gateway: Gateway) -> None:
    keep = settings.GATEHOUSE_DEPLOYMENT_HISTORY
    old = (
        Deployment.objects.filter(proxy=proxy, gateway=gateway)
        .exclude(status__in=CURRENT_STATUSES)
        .order_by("-created_at")
        .values_list("pk", flat=True)[max(keep - 1, 0) :]
    )
    stale = list(old)
    if stale:
        Deployment.objects.filter(pk__in=stale).delete()


@transaction.atomic
def stop(*, deployment: Deployment, user=None) -> Deployment:
    """Undeploy: the gateway stops serving the proxy within a second."""
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.status not in CURRENT_STATUSES:
        raise DeploymentNotActive(
            f"Deployment {deployment.name} is not active ({deployment.get_status_display()})."
        )
    deployment.status = DeploymentStatus.UNDEPLOYED
    deployment.stopped_at = timezone.now()
    deployment.save(update_fields=["status", "stopped_at", "updated_at"])
    bump_config_revision()
    return deployment


@transaction.atomic
def delete_record(*, deployment: Deployment) -> None:
    """Remove a deployment from history; refused while it is live."""
    if deployment.status in CURRENT_STATUSES:
        raise DeploymentActive(f"Deployment {deployment.name} is live; stop it first.")
    deployment.delete()
