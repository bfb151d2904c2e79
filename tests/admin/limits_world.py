"""Rate-limit consumption for the admin tests: Redis settings with a key prefix of the test's
own, and counts driven through the limits library the way gateway processes drive them."""

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from django.test import override_settings

from guardrails.limits import LimitContext, Limiter, RedisBackend, compile_limits
from guardrails.models import GuardrailAttachment
from tests.limits.conftest import REDIS_URL, redis_reachable


def redis_settings() -> Iterator[str]:
    """For a fixture: point the control plane at the test Redis under a fresh key prefix;
    yields the prefix and deletes its keys afterwards."""
    if not redis_reachable():
        pytest.skip("Redis is not reachable")
    prefix = f"gatehouse-admin-test:{uuid.uuid4().hex}:"
    with override_settings(
        GATEHOUSE_LIMITS_REDIS_URL=REDIS_URL, GATEHOUSE_LIMITS_KEY_PREFIX=prefix
    ):
        yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def consume(
    prefix: str,
    attachment: GuardrailAttachment,
    times: int = 1,
    *,
    key_id: str | None = None,
    resource: str = "POST /chat/completions",
    usage: dict[str, int] | None = None,
    model: str | None = None,
) -> None:
    """Admit ``times`` requests against the attachment's limits, as a gateway would, and
    settle each with ``usage`` when given."""
    row = {"id": attachment.pk, "policy": attachment.policy, "params": attachment.params}
    owned = ([row], []) if attachment.proxy_id else ([], [row])
    limits = compile_limits(*owned)

    async def run() -> None:
        limiter = Limiter(RedisBackend.from_url(REDIS_URL), prefix=prefix)
        try:
            for _ in range(times):
                context = LimitContext(key_id=key_id, resource=resource, model=model)
                decision = await limiter.admit(limits, context)
                assert decision.allowed, decision.message
                if usage is not None:
                    limiter.settle(decision.reservation, usage, model=model)
                    await limiter.flush()
        finally:
            await limiter.close()

    # In a thread of its own: a browser test's thread already runs an event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def readings(response, section: str = "limits") -> list[dict[str, Any]]:
    """Every consumption reading a Rate Limiting section shows, flattened:
    ``{"title", "on", "who", "resource", "text", "known", ...}``."""
    out = []
    for row in response.context[section]["rows"]:
        for counter in row["counters"]:
            for reading in counter["readings"]:
                out.append({**reading, "title": counter["title"], "on": counter["resource"]})
    return out
