"""The counter store going away: a closed port, and a Redis stopped and restarted mid-test."""

import asyncio
import time

import pytest

from guardrails.limits import Limiter, MemoryBackend, RedisBackend
from tests.limits.conftest import closed_port, ctx, fixed_clock, limits, request_limit
from tests.redis_server import started_private_redis

pytestmark = pytest.mark.anyio


@pytest.fixture
async def unreachable():
    limiter = Limiter(RedisBackend.from_url(f"redis://127.0.0.1:{closed_port()}/0"))
    yield limiter
    await limiter.close()


def budget(**params):
    return limits("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": 5}], **params})


async def test_a_fail_open_limit_serves_requests_while_redis_is_unreachable(unreachable):
    decision = await unreachable.admit(request_limit(1, failureMode="open"), ctx())
    assert (decision.allowed, list(decision.headers)) == (True, [])


async def test_a_fail_closed_limit_rejects_with_503_while_redis_is_unreachable(unreachable):
    decision = await unreachable.admit(request_limit(1, failureMode="closed"), ctx())
    assert (decision.allowed, decision.status, decision.retry_after) == (False, 503, 1)


async def test_request_limits_fail_open_by_default(unreachable):
    assert (await unreachable.admit(request_limit(1), ctx())).allowed


async def test_cost_budgets_fail_closed_by_default(unreachable):
    decision = await unreachable.admit(budget(), ctx(model="gpt-4o"))
    assert decision.rejected_label == "llm-cost-based-ratelimit 5 USD/1mo"


async def test_store_failures_are_counted(unreachable):
    await unreachable.admit(request_limit(1), ctx())
    await unreachable.admit(request_limit(1), ctx())
    assert unreachable.backend_failures == 2


async def test_settling_while_redis_is_unreachable_does_not_raise(unreachable):
    rules = limits("token-based-ratelimit", {"totalTokenLimits": [{"count": 10}]})
    decision = await unreachable.admit(rules, ctx())
    await unreachable.settle(decision.reservation, {"total_tokens": 5})
    assert unreachable.backend_failures == 2


@pytest.fixture
def private_redis():
    yield from started_private_redis()


async def until_allowed(limiter, rules, deadline: float):
    while True:
        decision = await limiter.admit(rules, ctx())
        if decision.allowed or time.monotonic() > deadline:
            return decision
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_limits_follow_their_failure_mode_while_redis_is_stopped_then_recover(
    private_redis, mode
):
    limiter = Limiter(RedisBackend.from_url(private_redis.url), clock=fixed_clock)
    rules = request_limit(3, failureMode=mode)
    before = await limiter.admit(rules, ctx())
    private_redis.stop()
    during = await limiter.admit(rules, ctx())
    private_redis.start()
    after = await until_allowed(limiter, rules, time.monotonic() + 5)
    await limiter.close()
    expected_during = (True, 200) if mode == "open" else (False, 503)
    assert (before.allowed, (during.allowed, during.status), after.allowed) == (
        True,
        expected_during,
        True,
    )


async def test_counting_resumes_exactly_after_redis_restarts(private_redis):
    limiter = Limiter(RedisBackend.from_url(private_redis.url), clock=fixed_clock)
    rules = request_limit(2)
    private_redis.stop()
    private_redis.start()  # an empty Redis: the window starts over
    await until_allowed(limiter, rules, time.monotonic() + 5)
    second = await limiter.admit(rules, ctx())
    third = await limiter.admit(rules, ctx())
    await limiter.close()
    assert (second.allowed, third.allowed) == (True, False)


async def test_the_in_process_backend_is_never_unavailable():
    limiter = Limiter(MemoryBackend())
    decision = await limiter.admit(budget(), ctx(model="gpt-4o"))
    assert decision.allowed
