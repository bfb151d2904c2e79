"""The configuration revision gateways watch to know when to reload their snapshot."""

from django.db import transaction
from django.db.models import F

from deployments.models import ConfigRevision

NOTIFY_CHANNEL = "gatehouse_config"


def bump_config_revision() -> None:
    """Advance the revision in the caller's transaction; watchers see it once it commits."""
    updated = ConfigRevision.objects.filter(pk=1).update(value=F("value") + 1)
    if not updated:
        ConfigRevision.objects.get_or_create(pk=1, defaults={"value": 1})
    transaction.on_commit(_announce)


def current_config_revision() -> int:
    row = ConfigRevision.objects.filter(pk=1).values_list("value", flat=True).first()
    return row or 0


def _announce() -> None:
    """Tell listening gateways at once (Redis pub/sub when configured); polling is the net."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5).publish(NOTIFY_CHANNEL, "1")
    except Exception:
        pass
