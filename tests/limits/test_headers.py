"""Header values, exactly. The fixed clock is 1_800_001_830.25: 30.25 s into a minute that
ends at 1_800_001_860 and 30 min 30.25 s into an hour that ends at 1_800_003_600."""

import pytest

from tests.limits.conftest import ctx, headers_of, limits, request_limit

pytestmark = pytest.mark.anyio


async def test_an_allowed_response_carries_the_counter_state_after_counting_it(make_limiter):
    limiter = make_limiter()
    rules = request_limit(10, unit="minute")
    await limiter.admit(rules, ctx())
    decision = await limiter.admit(rules, ctx())
    assert headers_of(decision) == {
        "x-ratelimit-limit": "10",
        "x-ratelimit-remaining": "8",
        "x-ratelimit-reset": "1800001860",
        "ratelimit-limit": "10",
        "ratelimit-remaining": "8",
        "ratelimit-reset": "30",
        "ratelimit-policy": "10;w=60",
    }


async def test_a_rejected_response_adds_retry_after(make_limiter):
    limiter = make_limiter()
    rules = request_limit(1, unit="minute")
    await limiter.admit(rules, ctx())
    decision = await limiter.admit(rules, ctx())
    headers = headers_of(decision)
    assert (headers["x-ratelimit-remaining"], headers["retry-after"]) == ("0", "30")


async def test_headers_describe_the_counter_closest_to_its_limit(make_limiter):
    limiter = make_limiter()
    rules = limits(
        "basic-ratelimit",
        {"limits": [{"requests": 4, "unit": "minute"}, {"requests": 100, "unit": "hour"}]},
    )
    for _ in range(3):
        decision = await limiter.admit(rules, ctx())
    headers = headers_of(decision)
    assert (headers["ratelimit-limit"], headers["ratelimit-remaining"]) == ("4", "1")


async def test_headers_compare_counters_of_different_kinds_by_the_share_left(make_limiter):
    limiter = make_limiter()
    rules_requests = {
        "id": 1,
        "policy": "basic-ratelimit",
        "params": {"limits": [{"requests": 10}]},
    }
    rules_tokens = {
        "id": 2,
        "policy": "token-based-ratelimit",
        "params": {"totalTokenLimits": [{"count": 1000, "unit": "hour"}]},
    }
    from guardrails.limits import compile_limits

    rules = compile_limits([rules_requests, rules_tokens], [])
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, {"total_tokens": 950})
    await limiter.flush()
    headers = headers_of(await limiter.admit(rules, ctx()))
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("1000", "50")


async def test_a_rejection_reports_the_rejecting_counter_that_frees_up_last(make_limiter):
    limiter = make_limiter()
    rules = limits(
        "basic-ratelimit",
        {"limits": [{"requests": 1, "unit": "minute"}, {"requests": 1, "unit": "hour"}]},
    )
    await limiter.admit(rules, ctx())
    decision = await limiter.admit(rules, ctx())
    headers = headers_of(decision)
    assert (headers["retry-after"], headers["ratelimit-policy"]) == ("1770", "1;w=3600")


async def test_a_monthly_window_reports_the_length_of_this_month(make_limiter):
    limiter = make_limiter()  # 2027-01-15: January has 31 days
    decision = await limiter.admit(request_limit(5, unit="month"), ctx())
    assert headers_of(decision)["ratelimit-policy"] == f"5;w={31 * 86400}"


async def test_headers_follow_the_clock_into_the_next_window(make_limiter):
    now = [1_800_001_830.25]
    limiter = make_limiter(clock=lambda: now[0])
    rules = request_limit(10, unit="minute")
    await limiter.admit(rules, ctx())
    now[0] += 20  # same window, 10 s before its end
    later = headers_of(await limiter.admit(rules, ctx()))
    now[0] += 15  # 5 s into the next minute
    next_window = headers_of(await limiter.admit(rules, ctx()))
    assert (later["x-ratelimit-reset"], later["ratelimit-reset"]) == ("1800001860", "10")
    assert later["x-ratelimit-remaining"] == "8"
    assert next_window["x-ratelimit-reset"] == "1800001920"
    assert (next_window["ratelimit-reset"], next_window["x-ratelimit-remaining"]) == ("55", "9")
    assert next_window["ratelimit-policy"] == "10;w=60"
