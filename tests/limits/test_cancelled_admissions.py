"""A request cancelled while its admission is in flight (client gone, timeout) holds no cost
reservation, and leaves the admissions it travelled with alone.

Redis is held in the middle of the call with ``CLIENT PAUSE ... WRITE``: the script call waits
in Redis (a blocked client) until ``CLIENT UNPAUSE``, so the caller is cancelled while its
admission is surely in flight."""

import asyncio

import pytest

from guardrails.limits import Limiter, RedisBackend
from tests.limits.conftest import ctx, fixed_clock, held_in_redis, limits

pytestmark = pytest.mark.anyio

BODY = {"model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
RESERVATION = 0.01025  # 100 prompt tokens (300 bytes) and 1000 output tokens of gpt-4o


def budget(amount: float = 10):
    return limits("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": amount}]})


def request():
    return ctx(model="gpt-4o", body=BODY, body_bytes=300)


@pytest.fixture
async def limiter(private_redis):
    made = Limiter(RedisBackend.from_url(private_redis.url, timeout=10), clock=fixed_clock)
    await made.admit(budget(), request())  # warm: connected, the script known
    yield made
    await made.close()


async def reserved(limiter: Limiter, rules) -> float:
    return (await limiter.current_usage(rules.groups[0].default[0]))["reserved"]


async def test_a_caller_cancelled_in_flight_leaves_nothing_reserved(limiter, control):
    rules = budget()
    before = await reserved(limiter, rules)
    await control.client_pause(60_000, all=False)
    admission = asyncio.ensure_future(limiter.admit(rules, request()))
    await held_in_redis(control)
    admission.cancel()
    await control.client_unpause()
    await limiter.flush()
    assert (admission.cancelled(), await reserved(limiter, rules)) == (True, before)


async def test_a_cancelled_caller_leaves_the_admissions_it_travelled_with(limiter, control):
    rules = budget()
    before = await reserved(limiter, rules)
    await control.client_pause(60_000, all=False)
    admissions = [asyncio.ensure_future(limiter.admit(rules, request())) for _ in range(3)]
    await held_in_redis(control)
    admissions[1].cancel()
    await control.client_unpause()
    kept = [await admissions[0], await admissions[2]]
    await limiter.flush()
    held = round(await reserved(limiter, rules) - before, 9)
    assert ([d.allowed for d in kept], held) == ([True, True], round(2 * RESERVATION, 9))


async def test_a_caller_cancelled_before_its_call_left_is_not_admitted(limiter):
    rules = budget()
    before = await reserved(limiter, rules)
    admission = asyncio.ensure_future(limiter.admit(rules, request()))
    admission.cancel()
    await limiter.flush()
    assert await reserved(limiter, rules) == before
