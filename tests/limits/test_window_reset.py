import asyncio
import time

import pytest

from tests.limits.conftest import ctx, limits, request_limit

pytestmark = pytest.mark.anyio


async def admitted_after_exhausting(limiter, rules, deadline: float) -> bool:
    """Exhaust a one-request limit, then poll until a request passes again or time is up."""
    while (await limiter.admit(rules, ctx())).allowed:
        pass
    while time.monotonic() < deadline:
        if (await limiter.admit(rules, ctx())).allowed:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_one_second_window_lets_requests_through_again_after_it_resets(make_limiter):
    limiter = make_limiter(clock=time.time)
    rules = request_limit(1, unit="second")
    assert await admitted_after_exhausting(limiter, rules, time.monotonic() + 3)


async def test_a_rejection_says_to_retry_when_the_window_resets(make_limiter):
    limiter = make_limiter(clock=time.time)
    rules = limits(
        "basic-ratelimit", {"limits": [{"requests": 1, "duration": 2, "unit": "second"}]}
    )
    while (await limiter.admit(rules, ctx())).allowed:
        pass
    decision = await limiter.admit(rules, ctx())
    assert decision.retry_after in (1, 2)


def test_a_counters_keys_follow_its_windows_and_callers():
    counter = request_limit(5, unit="minute").resolve("POST /chat/completions")[0][0]
    first = counter.key("p:", "", "key-a", 60.0)
    assert first.endswith("|key-a|60")
    assert counter.key("p:", "", "key-a", 60.0) == first
    assert counter.key("p:", "", "key-a", 120.0).endswith("|key-a|120")  # the next window
    assert counter.key("q:", "", "key-a", 60.0) == "q:" + first[2:]  # another prefix
    for n in range(5000):  # more callers than a counter keeps: it starts afresh, still right
        assert counter.key("p:", "POST /x", f"key-{n}", 60.0).endswith(f"POST /x|key-{n}|60")
    assert counter.key("p:", "", "key-a", 60.0) == first
