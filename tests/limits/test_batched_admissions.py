"""Admissions that reach the limiter during one pass of the event loop: one script call on
Redis, each admission still checked and counted on its own, in arrival order."""

import asyncio

import pytest
import redis

from guardrails.limits import Limiter, RedisBackend
from tests.limits.conftest import (
    ctx,
    fixed_clock,
    held_in_redis,
    limits,
    request_limit,
    script_calls,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def limiter(private_redis):
    made = Limiter(RedisBackend.from_url(private_redis.url), clock=fixed_clock)
    yield made
    await made.close()


async def warmed_up(limiter: Limiter) -> Limiter:
    """After one admission: the connection is open and Redis knows the script."""
    await limiter.admit(request_limit(1_000), ctx())
    return limiter


async def test_fifty_concurrent_admissions_are_one_script_call(limiter, private_redis):
    await warmed_up(limiter)
    before = script_calls(private_redis.url)
    await asyncio.gather(*(limiter.admit(request_limit(30), ctx()) for _ in range(50)))
    assert script_calls(private_redis.url) - before == 1


async def test_fifty_concurrent_admissions_in_one_call_admit_exactly_the_limit(limiter):
    rules = request_limit(30)
    decisions = await asyncio.gather(*(limiter.admit(rules, ctx()) for _ in range(50)))
    used = (await limiter.current_usage(rules.groups[0].default[0]))["used"]
    assert (sum(d.allowed for d in decisions), used) == (30, 30)


async def test_admissions_of_one_call_are_decided_in_arrival_order(limiter):
    rules = request_limit(3)
    decisions = await asyncio.gather(*(limiter.admit(rules, ctx()) for _ in range(5)))
    assert [d.allowed for d in decisions] == [True, True, True, False, False]


async def test_each_admission_of_one_call_sees_the_counts_of_those_before_it(limiter):
    rules = request_limit(5, unit="minute")
    decisions = await asyncio.gather(*(limiter.admit(rules, ctx()) for _ in range(3)))
    remaining = [dict(d.headers)[b"x-ratelimit-remaining"] for d in decisions]
    assert remaining == [b"4", b"3", b"2"]


async def test_a_rejected_admission_of_one_call_consumes_no_other_counter(limiter):
    rules = limits(
        "basic-ratelimit",
        {"limits": [{"requests": 3, "unit": "hour"}, {"requests": 1, "unit": "minute"}]},
    )
    await asyncio.gather(*(limiter.admit(rules, ctx()) for _ in range(5)))
    hourly = rules.groups[0].default[0]
    assert (await limiter.current_usage(hourly))["used"] == 1


async def test_admissions_against_different_limits_share_one_call_and_keep_apart(
    limiter, private_redis
):
    await warmed_up(limiter)
    tight, loose = request_limit(1, scope="per_key"), request_limit(10, unit="day")
    before = script_calls(private_redis.url)
    decisions = await asyncio.gather(
        limiter.admit(tight, ctx(key_id="a")),
        limiter.admit(loose, ctx()),
        limiter.admit(tight, ctx(key_id="a")),
        limiter.admit(tight, ctx(key_id="b")),
    )
    calls = script_calls(private_redis.url) - before
    assert ([d.allowed for d in decisions], calls) == ([True, True, False, True], 1)


async def test_admissions_resume_after_redis_forgets_the_script(limiter, private_redis):
    rules = request_limit(3)
    await limiter.admit(rules, ctx())
    redis.Redis.from_url(private_redis.url).script_flush()
    decisions = [await limiter.admit(rules, ctx()) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]


async def test_counters_live_in_the_database_the_url_names(private_redis):
    limiter = Limiter(RedisBackend.from_url(private_redis.url.replace("/0", "/5")))
    await limiter.admit(request_limit(3), ctx())
    await limiter.close()
    databases = redis.Redis.from_url(private_redis.url).info("keyspace")
    assert list(databases) == ["db5"]


async def test_admissions_issued_while_a_call_is_out_go_together_in_the_next(
    limiter, private_redis, control
):
    await warmed_up(limiter)
    rules = request_limit(30)
    before = script_calls(private_redis.url)
    await control.client_pause(60_000, all=False)
    first = asyncio.ensure_future(limiter.admit(rules, ctx()))
    await held_in_redis(control)
    later = [asyncio.ensure_future(limiter.admit(rules, ctx())) for _ in range(5)]
    await asyncio.sleep(0)  # another pass
    later += [asyncio.ensure_future(limiter.admit(rules, ctx())) for _ in range(5)]
    await control.client_unpause()
    decisions = await asyncio.gather(first, *later)
    calls = script_calls(private_redis.url) - before
    assert (calls, sum(d.allowed for d in decisions)) == (2, 11)
