"""The counter store going away: a closed port, a server that never answers, and a Redis
stopped and restarted mid-test."""

import asyncio
import time

import pytest

from guardrails.limits import Limiter, MemoryBackend, RedisBackend
from tests.limits.conftest import closed_port, ctx, fixed_clock, limits, request_limit

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
    unreachable.settle(decision.reservation, {"total_tokens": 5})
    assert unreachable.backend_failures == 2


def total_tokens():
    return limits("token-based-ratelimit", {"totalTokenLimits": [{"count": 10_000}]})


@pytest.mark.parametrize("cooldown", [1.0, 0.0])
async def test_a_settle_that_cannot_reach_redis_is_counted_as_a_failure(cooldown):
    # With a cool-down the settle fails at once; without, when its call fails to connect.
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{closed_port()}/0", cooldown=cooldown)
    limiter = Limiter(backend)
    decision = await limiter.admit(total_tokens(), ctx())  # fails open: a failure
    limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.flush()
    await limiter.close()
    assert (decision.allowed, limiter.backend_failures) == (True, 2)


async def test_settles_of_one_pass_in_one_failing_call_count_as_one_failure():
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{closed_port()}/0", cooldown=0.0)
    limiter = Limiter(backend)
    decisions = [await limiter.admit(total_tokens(), ctx()) for _ in range(3)]  # 3 failures
    for decision in decisions:
        limiter.settle(decision.reservation, {"total_tokens": 7})
    await limiter.close()  # applies (here: fails) what was issued
    assert limiter.backend_failures == 4


class SilentServer:
    """Accepts connections and never answers, like a Redis that hangs."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def accept(self, reader, writer) -> None:
        self.connections += 1
        while await reader.read(65536):
            pass
        writer.close()


@pytest.fixture
async def silent():
    server = SilentServer()
    url = await server.start()
    yield server, url
    server.server.close()


async def test_every_admission_of_a_call_that_times_out_follows_its_failure_mode(silent):
    _, url = silent
    limiter = Limiter(RedisBackend.from_url(url, timeout=0.2))
    closed, open_ = request_limit(5, failureMode="closed"), request_limit(5, failureMode="open")
    decisions = await asyncio.gather(
        *(limiter.admit(rules, ctx()) for _ in range(5) for rules in (closed, open_))
    )
    await limiter.close()
    statuses = [(d.allowed, d.status) for d in decisions]
    assert statuses == [(False, 503), (True, 200)] * 5


async def test_after_a_timeout_requests_fail_fast_without_reaching_redis(silent):
    server, url = silent
    limiter = Limiter(RedisBackend.from_url(url, timeout=0.2, cooldown=60))
    rules = request_limit(5, failureMode="closed")
    first = await limiter.admit(rules, ctx())  # waits for the timeout
    connections = server.connections
    later = [await limiter.admit(rules, ctx()) for _ in range(10)]
    await limiter.close()
    assert {(d.status, d.retry_after) for d in [first, *later]} == {(503, 1)}
    assert (connections, server.connections) == (1, 1)


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
