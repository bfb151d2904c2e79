"""Settles and releases are queued and return at once; those of one event-loop pass share one
script call on Redis and land exactly; ``flush`` and ``close`` wait for them."""

import asyncio

import pytest
import redis

from guardrails.limits import Limiter, RedisBackend
from tests.limits.conftest import (
    REDIS_URL,
    ctx,
    fixed_clock,
    limits,
    needs_redis,
    script_calls,
)

pytestmark = pytest.mark.anyio

BODY = {"model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
# gpt-4o: 1000 prompt tokens at 2.50 USD per 1M plus 100 completion tokens at 10.00 per 1M.
USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}
COST = 0.0035


def total_tokens(count: int = 10_000):
    return limits("token-based-ratelimit", {"totalTokenLimits": [{"count": count}]})


def budget(amount: float):
    return limits("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": amount}]})


def request():
    return ctx(model="gpt-4o", body=BODY, body_bytes=300)


def first_counter(rules):
    return rules.groups[0].default[0]


async def test_fifty_settles_of_one_pass_count_every_token(make_limiter):
    limiter = make_limiter()
    rules = total_tokens()
    decisions = [await limiter.admit(rules, ctx()) for _ in range(50)]
    for decision in decisions:
        limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.flush()
    assert (await limiter.current_usage(first_counter(rules)))["used"] == 350


async def test_settling_a_reservation_again_counts_nothing_more(make_limiter):
    limiter = make_limiter()
    rules = total_tokens()
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.flush()
    limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.flush()
    assert (await limiter.current_usage(first_counter(rules)))["used"] == 7


async def test_settles_and_releases_of_one_budget_in_one_pass_add_up(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decisions = [await limiter.admit(rules, request()) for _ in range(6)]
    for decision in decisions[:3]:
        limiter.settle(decision.reservation, USAGE)
    for decision in decisions[3:]:
        limiter.release(decision.reservation)
    await limiter.flush()
    usage = await limiter.current_usage(first_counter(rules))
    assert (usage["used"], usage["reserved"]) == (round(3 * COST, 9), 0)


async def test_settles_issued_by_concurrent_requests_land_exactly(make_limiter):
    limiter = make_limiter()
    rules = budget(10)

    async def call() -> None:
        decision = await limiter.admit(rules, request())
        await asyncio.sleep(0)  # the "upstream call": other requests interleave
        limiter.settle(decision.reservation, USAGE)

    await asyncio.gather(*(call() for _ in range(20)))
    await limiter.flush()
    usage = await limiter.current_usage(first_counter(rules))
    assert (usage["used"], usage["reserved"]) == (round(20 * COST, 9), 0)


async def test_an_admission_sees_the_settles_issued_before_it(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(100)
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, {"total_tokens": 100})
    assert (await limiter.admit(rules, ctx())).status == 429


@needs_redis
async def test_a_settle_returns_before_redis_has_applied_it(redis_limiters):
    limiter = redis_limiters()
    rules = total_tokens()
    decision = await limiter.admit(rules, ctx())
    key = decision.reservation.held[0].key
    limiter.settle(decision.reservation, {"total_tokens": 7})
    before = redis.Redis.from_url(REDIS_URL).get(key)
    await limiter.flush()
    after = redis.Redis.from_url(REDIS_URL).get(key)
    assert (before, after) == (None, b"7")


async def test_fifty_settles_of_one_pass_are_one_script_call(private_redis):
    limiter = Limiter(RedisBackend.from_url(private_redis.url), clock=fixed_clock)
    rules = total_tokens()
    decisions = [await limiter.admit(rules, ctx()) for _ in range(50)]
    limiter.settle(decisions[0].reservation, {"total_tokens": 7})
    await limiter.flush()  # Redis now knows the adjustment script
    before = script_calls(private_redis.url)
    for decision in decisions[1:]:
        limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.flush()
    calls = script_calls(private_redis.url) - before
    used = (await limiter.current_usage(first_counter(rules)))["used"]
    await limiter.close()
    assert (calls, used) == (1, 350)


@needs_redis
async def test_settles_clamp_a_reservation_lost_meanwhile_at_zero(redis_limiters):
    limiter = redis_limiters()
    rules = budget(10)
    decisions = [await limiter.admit(rules, request()) for _ in range(3)]
    key = decisions[0].reservation.held[0].key
    redis.Redis.from_url(REDIS_URL).hset(key, "r", 1)  # as if two reservations were lost
    for decision in decisions:
        limiter.settle(decision.reservation, USAGE)
    await limiter.flush()
    usage = await limiter.current_usage(first_counter(rules))
    assert (usage["used"], usage["reserved"]) == (round(3 * COST, 9), 0)


@needs_redis
async def test_closing_applies_the_settles_already_issued(prefix):
    limiter = Limiter(RedisBackend.from_url(REDIS_URL), prefix=prefix, clock=fixed_clock)
    rules = total_tokens()
    decisions = [await limiter.admit(rules, ctx()) for _ in range(5)]
    for decision in decisions:
        limiter.settle(decision.reservation, {"total_tokens": 7})
    key = decisions[0].reservation.held[0].key
    await limiter.close()
    assert redis.Redis.from_url(REDIS_URL).get(key) == b"35"


@needs_redis
async def test_a_settled_counter_expires_after_its_window(redis_limiters):
    limiter = redis_limiters()
    rules = total_tokens()  # one minute; the fixed clock is 30.25 s into it
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.flush()
    ttl = redis.Redis.from_url(REDIS_URL).pttl(decision.reservation.held[0].key)
    assert 30_000 < ttl <= 31_000


async def test_token_counts_beyond_four_billion_add_exactly(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(10**13)
    for _ in range(3):
        decision = await limiter.admit(rules, ctx())
        limiter.settle(decision.reservation, {"total_tokens": 3_000_000_001})
    await limiter.flush()
    assert (await limiter.current_usage(first_counter(rules)))["used"] == 9_000_000_003
