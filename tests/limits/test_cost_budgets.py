import asyncio

import pytest

from guardrails.limits.pricing import NANO_PER_USD
from tests.limits.conftest import ctx, headers_of, limits

pytestmark = pytest.mark.anyio

# gpt-4o: 2.50 USD per 1M input tokens, 10.00 per 1M output tokens.
BODY = {"model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
# 300 bytes -> 100 prompt tokens: 0.00025 USD; 1000 output tokens: 0.01 USD.
RESERVATION = 0.01025


def budget(amount: float, **params):
    return limits("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": amount}], **params})


def request(**overrides):
    return ctx(**{"model": "gpt-4o", "body": BODY, "body_bytes": 300, **overrides})


def counter(rules):
    return rules.groups[0].default[0]


async def test_a_request_reserves_its_estimate_from_max_tokens(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    await limiter.admit(rules, request())
    assert (await limiter.current_usage(counter(rules)))["reserved"] == RESERVATION


async def test_a_request_without_max_tokens_reserves_the_configured_cap(make_limiter):
    limiter = make_limiter()
    rules = budget(10, maxReservationUsd=0.2)
    await limiter.admit(rules, request(body={"model": "gpt-4o", "messages": []}))
    assert (await limiter.current_usage(counter(rules)))["reserved"] == 0.2


async def test_an_estimate_above_the_cap_reserves_the_cap(make_limiter):
    limiter = make_limiter()
    rules = budget(10, maxReservationUsd=0.005)
    await limiter.admit(rules, request())
    assert (await limiter.current_usage(counter(rules)))["reserved"] == 0.005


async def test_settling_replaces_the_reservation_with_the_real_cost(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request())
    limiter.settle(decision.reservation, {"prompt_tokens": 1000, "completion_tokens": 100})
    await limiter.flush()
    usage = await limiter.current_usage(counter(rules))
    assert (usage["used"], usage["reserved"]) == (0.0035, 0)


async def test_cached_input_tokens_cost_the_cached_price(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request())
    usage = {"prompt_tokens": 1000, "cached_tokens": 1000, "completion_tokens": 0}
    limiter.settle(decision.reservation, usage)
    await limiter.flush()
    assert (await limiter.current_usage(counter(rules)))["used"] == 0.00125


async def test_releasing_gives_the_reservation_back(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request())
    limiter.release(decision.reservation)
    await limiter.flush()
    usage = await limiter.current_usage(counter(rules))
    assert (usage["used"], usage["reserved"]) == (0, 0)


async def test_a_response_without_usage_is_charged_its_reservation(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request())
    limiter.settle(decision.reservation, None)
    await limiter.flush()
    usage = await limiter.current_usage(counter(rules))
    assert (usage["used"], usage["reserved"]) == (RESERVATION, 0)


async def test_fifty_concurrent_requests_overshoot_by_at_most_one_reservation(make_limiter):
    limiters = [make_limiter(), make_limiter()]
    rules = budget(0.1)

    async def call(index: int) -> bool:
        limiter = limiters[index % 2]
        decision = await limiter.admit(rules, request())
        if decision.allowed:
            await asyncio.sleep(0)  # let other admissions interleave with the "upstream call"
            limiter.settle(decision.reservation, {"prompt_tokens": 100, "completion_tokens": 1000})
            await limiter.flush()
        return decision.allowed

    admitted = await asyncio.gather(*(call(i) for i in range(50)))
    spent = (await limiters[0].current_usage(counter(rules)))["used"]
    assert sum(admitted) >= 1
    assert 0.1 <= spent <= 0.1 + RESERVATION


async def test_a_budget_full_only_of_reservations_says_retry_in_one_second(make_limiter):
    limiter = make_limiter()
    rules = budget(0.01)
    await limiter.admit(rules, request())
    decision = await limiter.admit(rules, request())
    assert (decision.status, decision.retry_after) == (429, 1)


async def test_a_spent_budget_says_retry_when_the_window_resets(make_limiter):
    limiter = make_limiter()
    rules = limits("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": 0.01, "unit": "hour"}]})
    decision = await limiter.admit(rules, request())
    limiter.settle(decision.reservation, {"prompt_tokens": 0, "completion_tokens": 1000})
    await limiter.flush()
    rejected = await limiter.admit(rules, request())
    assert rejected.retry_after == 1770  # the fixed clock is 30 min 30.25 s into the hour


async def test_an_unknown_model_costs_the_fallback_price(make_limiter):
    limiter = make_limiter()
    rules = budget(10, fallbackPrice={"input": 1, "output": 2})
    decision = await limiter.admit(rules, request(model="house-model-7"))
    limiter.settle(decision.reservation, {"prompt_tokens": 1000, "completion_tokens": 1000})
    await limiter.flush()
    assert (await limiter.current_usage(counter(rules)))["used"] == 0.003


async def test_an_unknown_model_without_a_fallback_price_costs_nothing(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request(model="house-model-7"))
    limiter.settle(decision.reservation, {"prompt_tokens": 1000, "completion_tokens": 1000})
    await limiter.flush()
    usage = await limiter.current_usage(counter(rules))
    assert (usage["used"], usage["reserved"]) == (0, 0)


async def test_the_model_the_response_reports_prices_the_settlement(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request(model=None))
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 0}
    limiter.settle(decision.reservation, usage, model="gpt-4o-mini-2024-07-18")
    await limiter.flush()
    assert (await limiter.current_usage(counter(rules)))["used"] == 0.15


async def test_cost_headers_carry_the_budget_in_dollars(make_limiter):
    limiter = make_limiter()
    decision = await limiter.admit(budget(2), request())
    headers = headers_of(decision)
    assert (
        headers["x-ratelimit-limit"],
        headers["x-ratelimit-cost-limit-dollars"],
        headers["x-ratelimit-cost-remaining-dollars"],
    ) == (str(2 * NANO_PER_USD), "2.000000", "1.989750")


async def test_fifty_concurrent_admissions_reserve_at_most_one_reservation_past_the_budget(
    make_limiter,
):
    limiters = [make_limiter(), make_limiter()]
    rules = budget(0.1)
    decisions = await asyncio.gather(*(limiters[i % 2].admit(rules, request()) for i in range(50)))
    reserved = (await limiters[0].current_usage(counter(rules)))["reserved"]
    assert (sum(d.allowed for d in decisions), reserved) == (10, round(10 * RESERVATION, 9))


async def test_a_budget_of_a_million_dollars_counts_to_the_nano_dollar(make_limiter):
    limiter = make_limiter()
    rules = budget(1_000_000)
    decision = await limiter.admit(rules, request())
    limiter.settle(decision.reservation, {"prompt_tokens": 1, "completion_tokens": 1})
    await limiter.flush()
    usage = await limiter.current_usage(counter(rules))
    assert (usage["used"], usage["reserved"], usage["remaining"]) == (
        0.0000125,
        0,
        999_999.9999875,
    )


async def test_a_cost_given_with_the_usage_is_charged_exactly(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request())
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    limiter.settle(decision.reservation, usage, cost_nano=1_234_567)
    await limiter.flush()
    assert (await limiter.current_usage(counter(rules)))["used"] == 0.001234567


async def test_a_cost_given_is_charged_even_for_a_model_the_limiter_cannot_price(make_limiter):
    limiter = make_limiter()
    rules = budget(10, maxReservationUsd=0.2)
    decision = await limiter.admit(rules, request(model="house-model"))
    limiter.settle(decision.reservation, {"prompt_tokens": 10}, cost_nano=5_000)
    await limiter.flush()
    assert (await limiter.current_usage(counter(rules)))["used"] == 0.000005


async def test_cache_writes_cost_the_cache_write_price(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decision = await limiter.admit(rules, request(model="claude-sonnet-4-5"))
    # 1000 input tokens all written to the cache: 3.75 USD per million.
    usage = {"prompt_tokens": 1000, "cache_write_tokens": 1000, "completion_tokens": 0}
    limiter.settle(decision.reservation, usage)
    await limiter.flush()
    assert (await limiter.current_usage(counter(rules)))["used"] == 0.00375
