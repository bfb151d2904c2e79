"""The consumption of rate-limit guardrails, read from the counters gateways share in Redis."""

import asyncio
import math
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis

from guardrails.limits import LimitContext, Limiter, RedisBackend, compile_limits
from tests.api import expect
from tests.factories import GuardrailFactory, api_key
from tests.limits.conftest import REDIS_URL, needs_redis


@pytest.fixture
def store(settings):
    """Point the API at Redis with a key prefix of this test's own (deleted afterwards)."""
    prefix = f"gatehouse-test:{uuid.uuid4().hex}:"
    settings.GATEHOUSE_LIMITS_REDIS_URL = REDIS_URL
    settings.GATEHOUSE_LIMITS_KEY_PREFIX = prefix
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def admit(attachment, prefix: str, times: int, key_id: str | None = None) -> None:
    """Count requests against the attachment as a gateway would."""
    row = {
        "id": attachment.pk,
        "policy": attachment.policy,
        "version": attachment.policy_version,
        "params": attachment.params,
    }
    on_proxy = attachment.proxy_id is not None
    limits = compile_limits([row] if on_proxy else [], [] if on_proxy else [row])

    async def run() -> None:
        limiter = Limiter(RedisBackend.from_url(REDIS_URL), prefix=prefix)
        for _ in range(times):
            await limiter.admit(limits, LimitContext(key_id=key_id))
        await limiter.close()

    asyncio.run(run())


def request_limit(proxy=None, provider=None, **params):
    owner = {"proxy": proxy} if proxy is not None else {"provider": provider, "proxy": None}
    return GuardrailFactory(
        **owner,
        policy="basic-ratelimit",
        params={"limits": [{"requests": 5, "unit": "hour"}], **params},
    )


def url(attachment) -> str:
    if attachment.proxy_id is not None:
        return f"/api/v1/proxies/{attachment.proxy.slug}/guardrails/{attachment.pk}/usage/"
    return f"/api/v1/providers/{attachment.provider.slug}/guardrails/{attachment.pk}/usage/"


@needs_redis
def test_usage_shows_the_consumption_and_reset_of_each_limit(api, proxy, store):
    attachment = request_limit(proxy)
    admit(attachment, store, 2)
    before = time.time()
    body = api.get(url(attachment)).json()
    (counter,) = body["counters"]
    assert (body["guardrail"], body["policy"], body["key"]) == (
        attachment.pk,
        "basic-ratelimit",
        None,
    )
    assert (counter["label"], counter["scope"], counter["window"]) == (
        "basic-ratelimit 5 requests/1h",
        "shared",
        {"duration": 1, "unit": "hour"},
    )
    usage = counter["usage"]
    assert (usage["used"], usage["remaining"], usage["limit"], usage["unit"]) == (
        2,
        3,
        5,
        "requests",
    )
    reset = datetime.fromtimestamp((math.floor(before / 3600) + 1) * 3600, UTC)
    assert datetime.fromisoformat(usage["reset_at"].replace("Z", "+00:00")) == reset


@needs_redis
def test_per_key_usage_shows_the_counters_of_the_key_asked_for(api, proxy, store):
    attachment = request_limit(proxy, scope="per_key")
    first, _ = api_key(proxy, name="first")
    second, _ = api_key(proxy, name="second")
    admit(attachment, store, 3, key_id=str(first.pk))
    used = {
        key.name: api.get(url(attachment), {"key": str(key.pk)}).json()["counters"][0]["usage"][
            "used"
        ]
        for key in (first, second)
    }
    assert used == {"first": 3, "second": 0}


@needs_redis
def test_a_provider_limit_shows_its_usage(api, provider, store):
    attachment = request_limit(provider=provider)
    admit(attachment, store, 1)
    response = api.get(url(attachment))
    assert response.json()["counters"][0]["usage"]["used"] == 1


@needs_redis
def test_viewers_may_read_usage(viewer_api, proxy, store):
    attachment = request_limit(proxy)
    assert viewer_api.get(url(attachment)).status_code == 200


def test_usage_is_null_while_the_counter_store_is_unreachable(api, proxy, settings):
    settings.GATEHOUSE_LIMITS_REDIS_URL = "redis://127.0.0.1:1/0"
    attachment = request_limit(proxy)
    (counter,) = api.get(url(attachment)).json()["counters"]
    assert counter["usage"] is None


def test_usage_is_null_when_gateways_count_in_process(api, proxy, settings):
    settings.GATEHOUSE_LIMITS_REDIS_URL = ""
    settings.REDIS_URL = ""
    attachment = request_limit(proxy)
    (counter,) = api.get(url(attachment)).json()["counters"]
    assert counter["usage"] is None
    assert counter["limit"] == 5


def test_a_key_of_another_proxy_is_not_found(api, proxy):
    attachment = request_limit(proxy)
    response = api.get(url(attachment), {"key": str(uuid.uuid4())})
    expect.error(response, 404)


def test_a_guardrail_that_is_not_a_rate_limit_has_no_usage(api, proxy):
    attachment = GuardrailFactory(proxy=proxy)
    expect.error(api.get(url(attachment)), 404, "NOT_FOUND")


def test_usage_needs_authentication(anon_api, proxy):
    attachment = request_limit(proxy)
    assert anon_api.get(url(attachment)).status_code == 401
