"""The configuration revision gateways watch to know when to reload their snapshot."""

import contextlib
import functools

import redis
from django.conf import settings
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


@functools.cache
def _publisher(url: str):
    """One Redis client (and connection pool) per process, not one per change."""
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def publish(channel: str, message: bytes | str) -> None:
    """Best effort: tell every listening process on ``channel`` (blocking; Redis only)."""
    if settings.REDIS_URL:
        with contextlib.suppress(Exception):
            _publisher(settings.REDIS_URL).publish(channel, message)


def _announce() -> None:
    """Tell listening gateways at once (Redis pub/sub when configured); polling is the net."""
    if not settings.REDIS_URL:
        return
    # Best effort: the gateways' revision poll catches up within 200 ms anyway.
    with contextlib.suppress(Exception):
        _publisher(settings.REDIS_URL).publish(NOTIFY_CHANNEL, "1")
