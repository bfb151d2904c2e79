import pytest

from tests.limits.conftest import ctx, limits

pytestmark = pytest.mark.anyio

USAGE = {"prompt_tokens": 60, "completion_tokens": 50, "total_tokens": 110}


def total_tokens(count: int, **params):
    return limits("token-based-ratelimit", {"totalTokenLimits": [{"count": count}], **params})


async def test_a_request_is_admitted_while_tokens_remain(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(100)
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, {**USAGE, "total_tokens": 99})
    await limiter.flush()
    assert (await limiter.admit(rules, ctx())).allowed


async def test_the_next_request_is_blocked_once_settled_usage_reaches_the_limit(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(100)
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, USAGE)
    await limiter.flush()
    assert (await limiter.admit(rules, ctx())).status == 429


async def test_usage_settled_by_another_process_blocks_this_one(make_limiter):
    first, second = make_limiter(), make_limiter()
    rules = total_tokens(100)
    decision = await first.admit(rules, ctx())
    first.settle(decision.reservation, USAGE)
    await first.flush()
    assert not (await second.admit(rules, ctx())).allowed


async def test_prompt_and_completion_tokens_have_their_own_counters(make_limiter):
    limiter = make_limiter()
    rules = limits(
        "token-based-ratelimit",
        {"promptTokenLimits": [{"count": 1000}], "completionTokenLimits": [{"count": 50}]},
    )
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, USAGE)
    await limiter.flush()
    assert (await limiter.admit(rules, ctx())).rejected_label == (
        "token-based-ratelimit 50 completion tokens/1m"
    )


async def test_a_response_without_usage_adds_no_tokens(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(100)
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, None)
    await limiter.flush()
    assert (await limiter.current_usage(rules.groups[0].default[0]))["used"] == 0


async def test_settling_twice_counts_once(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(1000)
    decision = await limiter.admit(rules, ctx())
    limiter.settle(decision.reservation, USAGE)
    limiter.settle(decision.reservation, USAGE)
    await limiter.flush()
    assert (await limiter.current_usage(rules.groups[0].default[0]))["used"] == 110


async def test_per_key_token_limits_isolate_two_keys(make_limiter):
    limiter = make_limiter()
    rules = total_tokens(100, scope="per_key")
    decision = await limiter.admit(rules, ctx(key_id="a"))
    limiter.settle(decision.reservation, USAGE)
    await limiter.flush()
    assert (await limiter.admit(rules, ctx(key_id="b"))).allowed
