from datetime import UTC, datetime

import pytest

from guardrails.limits import Limiter, RedisBackend
from guardrails.selectors import attachment_limit_usage
from tests.factories import ProviderFactory
from tests.limits.conftest import REDIS_URL, ctx, needs_redis, request_limit

pytestmark = pytest.mark.anyio


async def test_current_usage_reports_use_remaining_and_reset(make_limiter):
    limiter = make_limiter()
    rules = request_limit(5, unit="hour")
    await limiter.admit(rules, ctx())
    await limiter.admit(rules, ctx())
    usage = await limiter.current_usage(rules.groups[0].default[0])
    assert usage == {
        "used": 2,
        "reserved": 0,
        "limit": 5,
        "remaining": 3,
        "unit": "requests",
        "window_start": datetime(2027, 1, 15, 8, tzinfo=UTC),
        "reset_at": datetime(2027, 1, 15, 9, tzinfo=UTC),
    }


async def test_current_usage_of_a_per_key_limit_reads_that_key(make_limiter):
    limiter = make_limiter()
    rules = request_limit(5, scope="per_key")
    await limiter.admit(rules, ctx(key_id="a"))
    counter = rules.groups[0].default[0]
    assert [(await limiter.current_usage(counter, key))["used"] for key in ("a", "b")] == [1, 0]


async def test_current_usage_of_a_per_resource_limit_reads_that_resource(make_limiter):
    limiter = make_limiter()
    rules = request_limit(5, perResource=True)
    await limiter.admit(rules, ctx(resource="POST /chat/completions"))
    counter = rules.groups[0].default[0]
    usage = await limiter.current_usage(counter, resource="POST /chat/completions")
    assert usage["used"] == 1


@needs_redis
@pytest.mark.django_db
def test_the_admin_reads_an_attachments_consumption_from_redis(settings, prefix):
    import asyncio

    from guardrails import services
    from guardrails.limits import compile_limits

    settings.REDIS_URL = REDIS_URL
    settings.GATEHOUSE_LIMITS_KEY_PREFIX = prefix
    attachment = services.attachment_create(
        policy="basic-ratelimit",
        params={"limits": [{"requests": 5, "unit": "day"}]},
        provider=ProviderFactory(),
    )
    rules = compile_limits(
        [], [{"id": attachment.pk, "policy": attachment.policy, "params": attachment.params}]
    )

    async def admit_twice() -> None:
        limiter = Limiter(RedisBackend.from_url(REDIS_URL), prefix=prefix)
        await limiter.admit(rules, ctx())
        await limiter.admit(rules, ctx())
        await limiter.close()

    asyncio.run(admit_twice())
    [row] = attachment_limit_usage(attachment=attachment)
    assert (row["label"], row["usage"]["used"], row["usage"]["remaining"]) == (
        "basic-ratelimit 5 requests/1d",
        2,
        3,
    )
