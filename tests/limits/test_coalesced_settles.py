"""Settles and releases of one event-loop iteration share one script call on Redis, stay
exact, and each caller returns once its own ops have been applied."""

import asyncio

import pytest
import redis

from guardrails.limits import BackendUnavailable, Limiter, RedisBackend
from guardrails.limits.backends import TOKENS, AdjustOp, AdmitOp
from guardrails.limits.resp import LeanRedis
from tests.limits.conftest import REDIS_URL, closed_port, ctx, limits, needs_redis

pytestmark = pytest.mark.anyio

BODY = {"model": "gpt-4o", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
# gpt-4o: 1000 prompt tokens at 2.50 USD per 1M plus 100 completion tokens at 10.00 per 1M.
USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}
COST = 0.0035


class CountingRedis(LeanRedis):
    """The real client, counting the batched script calls it sends."""

    def __init__(self, url: str, **kwargs):
        super().__init__(url, **kwargs)
        self.batches = 0

    def script_soon(self, source, keys, args):
        self.batches += 1
        return super().script_soon(source, keys, args)


def tokens_op(key: str, tokens: int = 7) -> AdjustOp:
    return AdjustOp(key, TOKENS, tokens, 0, 60_000)


def budget(amount: float):
    return limits("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": amount}]})


def request():
    return ctx(model="gpt-4o", body=BODY, body_bytes=300)


def first_counter(rules):
    return rules.groups[0].default[0]


@needs_redis
async def test_fifty_settles_on_one_counter_are_one_call_and_each_caller_sees_them_applied(
    prefix,
):
    client = CountingRedis(REDIS_URL)
    backend = RedisBackend(client)
    key = f"{prefix}tokens"
    direct = redis.Redis.from_url(REDIS_URL)
    seen = []

    async def settle():
        await backend.adjust([tokens_op(key)])
        seen.append(int(direct.get(key)))

    await client.execute("PING")
    await asyncio.gather(*(settle() for _ in range(50)))
    await backend.close()
    assert (client.batches, seen) == (1, [350] * 50)
    assert 0 < direct.pttl(key) <= 60_000


async def test_fifty_concurrent_settles_count_every_token(make_limiter):
    limiter = make_limiter()
    rules = limits("token-based-ratelimit", {"totalTokenLimits": [{"count": 10_000}]})
    decisions = [await limiter.admit(rules, ctx()) for _ in range(50)]
    await asyncio.gather(*(limiter.settle(d.reservation, {"total_tokens": 7}) for d in decisions))
    assert (await limiter.current_usage(first_counter(rules)))["used"] == 350


async def test_settles_and_releases_of_one_budget_in_one_iteration_add_up(make_limiter):
    limiter = make_limiter()
    rules = budget(10)
    decisions = [await limiter.admit(rules, request()) for _ in range(6)]
    await asyncio.gather(
        *(limiter.settle(d.reservation, USAGE) for d in decisions[:3]),
        *(limiter.release(d.reservation) for d in decisions[3:]),
    )
    usage = await limiter.current_usage(first_counter(rules))
    assert (usage["used"], usage["reserved"]) == (round(3 * COST, 9), 0)


@needs_redis
async def test_merged_settles_clamp_a_reservation_lost_meanwhile_at_zero(redis_limiters):
    limiter = redis_limiters()
    rules = budget(10)
    decisions = [await limiter.admit(rules, request()) for _ in range(3)]
    key = decisions[0].reservation.held[0].key
    redis.Redis.from_url(REDIS_URL).hset(key, "r", 1)  # as if two reservations were lost
    await asyncio.gather(*(limiter.settle(d.reservation, USAGE) for d in decisions))
    usage = await limiter.current_usage(first_counter(rules))
    assert (usage["used"], usage["reserved"]) == (round(3 * COST, 9), 0)


@needs_redis
async def test_a_cancelled_caller_leaves_the_others_and_its_ops_still_count(prefix):
    backend = RedisBackend.from_url(REDIS_URL)
    key = f"{prefix}tokens"
    tasks = [asyncio.ensure_future(backend.adjust([tokens_op(key)])) for _ in range(3)]
    await asyncio.sleep(0)  # one iteration: all three have joined the batch
    tasks[1].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    await backend.close()
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "CancelledError", "NoneType"]
    assert int(redis.Redis.from_url(REDIS_URL).get(key)) == 21


@needs_redis
async def test_closing_applies_the_settles_already_issued(prefix):
    backend = RedisBackend.from_url(REDIS_URL)
    key = f"{prefix}tokens"
    tasks = [asyncio.ensure_future(backend.adjust([tokens_op(key)])) for _ in range(5)]
    await asyncio.sleep(0)  # one iteration: all five have joined the batch, not yet sent
    await backend.close()
    assert int(redis.Redis.from_url(REDIS_URL).get(key)) == 35
    await asyncio.gather(*tasks)


async def test_every_caller_of_a_batch_that_times_out_gets_backend_unavailable():
    async def answer_once(reader, writer):
        await reader.read(1024)
        writer.write(b"+PONG\r\n")
        while await reader.read(65536):
            pass  # silent from now on
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = RedisBackend(LeanRedis(f"redis://127.0.0.1:{port}/0", timeout=0.2))
    try:
        await backend.client.execute("PING")  # connected: the batch goes out on it
        outcomes = await asyncio.gather(
            *(backend.adjust([tokens_op(f"k{n}")]) for n in range(10)), return_exceptions=True
        )
        with pytest.raises(BackendUnavailable, match="cooling down"):
            await backend.adjust([tokens_op("k")])
    finally:
        await backend.close()
        server.close()
    assert [type(o) for o in outcomes] == [BackendUnavailable] * 10
    assert len({id(o) for o in outcomes}) == 10
    assert all(isinstance(o.__cause__, TimeoutError) for o in outcomes)


async def test_every_caller_of_a_batch_gets_backend_unavailable_while_redis_is_unreachable():
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    try:
        outcomes = await asyncio.gather(
            *(backend.adjust([tokens_op(f"k{n}")]) for n in range(10)), return_exceptions=True
        )
    finally:
        await backend.close()
    assert [type(o) for o in outcomes] == [BackendUnavailable] * 10


async def _poll(read, expected, deadline: float = 5.0):
    """``read()`` until it returns ``expected`` or the deadline passes; the last value."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        value = await read()
        if value == expected or loop.time() >= end:
            return value
        await asyncio.sleep(0.01)


async def test_settling_without_waiting_counts_every_token(make_limiter):
    limiter = make_limiter()
    rules = limits("token-based-ratelimit", {"totalTokenLimits": [{"count": 10_000}]})
    decisions = [await limiter.admit(rules, ctx()) for _ in range(50)]
    for decision in decisions:
        limiter.settle_soon(decision.reservation, {"total_tokens": 7})
        limiter.settle_soon(decision.reservation, {"total_tokens": 7})  # idempotent

    async def used():
        return (await limiter.current_usage(first_counter(rules)))["used"]

    assert await _poll(used, 350) == 350


async def test_releasing_without_waiting_frees_the_reservation(make_limiter):
    limiter = make_limiter()
    rules = budget(1.0)
    decision = await limiter.admit(rules, request())
    assert (await limiter.current_usage(first_counter(rules)))["reserved"] > 0
    limiter.release_soon(decision.reservation)

    async def reserved():
        return (await limiter.current_usage(first_counter(rules)))["reserved"]

    assert await _poll(reserved, 0) == 0


@pytest.mark.parametrize("cooldown", [1.0, 0.0])
async def test_a_settle_that_cannot_reach_redis_is_counted_as_a_failure(cooldown):
    # With a cooldown the settle fails at once; without, when its batch fails to connect.
    client = LeanRedis(f"redis://127.0.0.1:{closed_port()}/0")
    limiter = Limiter(RedisBackend(client, cooldown=cooldown))
    rules = limits("token-based-ratelimit", {"totalTokenLimits": [{"count": 10_000}]})
    decision = await limiter.admit(rules, ctx())  # fails open: served, counted as a failure
    assert decision.allowed and limiter.backend_failures == 1
    limiter.settle_soon(decision.reservation, {"total_tokens": 7})

    async def failures():
        return limiter.backend_failures

    assert await _poll(failures, 2) == 2
    await limiter.close()


async def test_settles_merged_into_one_failing_call_count_as_one_failure():
    client = LeanRedis(f"redis://127.0.0.1:{closed_port()}/0")
    limiter = Limiter(RedisBackend(client, cooldown=0.0))
    rules = limits("token-based-ratelimit", {"totalTokenLimits": [{"count": 10_000}]})
    decisions = [await limiter.admit(rules, ctx()) for _ in range(3)]  # each fails open
    assert limiter.backend_failures == 3
    for decision in decisions:  # one loop iteration: one batch, one script call
        limiter.settle_soon(decision.reservation, {"total_tokens": 7})
    await limiter.close()  # applies (here: fails) what was issued
    assert limiter.backend_failures == 4


@needs_redis
async def test_a_settle_leaves_with_the_next_admit_and_that_admit_sees_it(prefix):
    client = CountingRedis(REDIS_URL)
    backend = RedisBackend(client)
    key = f"{prefix}tokens"
    # Once before, so that Redis knows the script (a first EVALSHA is answered NOSCRIPT).
    backend.adjust_soon([tokens_op(f"{prefix}warm", 1)])
    await backend.admit([AdmitOp(f"{prefix}warm", TOKENS, 7, 0, 60_000)])
    before, calls = client.writes, client.batches
    settled = backend.adjust_soon([tokens_op(key, 7)])
    result = await backend.admit([AdmitOp(key, TOKENS, 7, 0, 60_000)])
    await settled
    writes, calls = client.writes - before, client.batches - calls
    await backend.close()
    assert (writes, calls) == (1, 1)  # one script call, in one socket write, carried both
    assert (result.allowed, result.used) == (False, [7])


@needs_redis
async def test_cancelling_the_admit_that_carries_settles_leaves_them_applied(prefix):
    client = LeanRedis(REDIS_URL)
    backend = RedisBackend(client)
    key = f"{prefix}tokens"
    await client.execute("PING")
    settled = backend.adjust_soon([tokens_op(key, 7)])  # someone waits for it
    unwatched = f"{prefix}unwatched"
    backend.adjust_later([tokens_op(unwatched, 5)])
    admit = asyncio.ensure_future(backend.admit([AdmitOp(f"{prefix}r", TOKENS, 9, 0, 60_000)]))
    await asyncio.sleep(0)  # the admit has sent its call, carrying both settles
    admit.cancel()
    await settled  # applied all the same, and its waiter told so
    await backend.close()
    direct = redis.Redis.from_url(REDIS_URL)
    assert (int(direct.get(key)), int(direct.get(unwatched))) == (7, 5)
    assert admit.cancelled()
