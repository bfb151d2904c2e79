"""The pipelined Redis client behind the limit counters, against a real Redis."""

import asyncio
import socket
import threading
import time

import pytest
import redis

from guardrails.limits.resp import LeanRedis, RedisReplyError
from tests.limits.conftest import REDIS_URL, needs_redis

pytestmark = needs_redis


def run(coro):
    return asyncio.run(coro)


def test_concurrent_commands_get_their_own_replies(prefix):
    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            keys = [f"{prefix}{n}" for n in range(50)]
            await asyncio.gather(*(client.execute("SET", k, n) for n, k in enumerate(keys)))
            return await asyncio.gather(*(client.execute("GET", k) for k in keys))
        finally:
            await client.aclose()

    assert run(go()) == [str(n).encode() for n in range(50)]


def test_scripts_are_sent_again_after_redis_forgets_them(prefix):
    source = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            first = await client.script(source, [f"{prefix}n"], [2])
            redis.Redis.from_url(REDIS_URL).script_flush()
            second = await client.script(source, [f"{prefix}n"], [3])
            return first, second
        finally:
            await client.aclose()

    assert run(go()) == (2, 5)


def test_scripts_queued_from_a_callback_are_sent_again_after_redis_forgets_them(prefix):
    source = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            first = await client.script_soon(source, [f"{prefix}n"], [2])  # connects first
            redis.Redis.from_url(REDIS_URL).script_flush()
            second = await client.script_soon(source, [f"{prefix}n"], [3])  # on the connection
            return first, second
        finally:
            await client.aclose()

    assert run(go()) == (2, 5)


def test_a_failing_script_queued_from_a_callback_raises_its_error_and_the_next_call_works(
    prefix,
):
    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            await client.execute("PING")
            failing = client.script_soon("return redis.error_reply('boom')", [f"{prefix}x"], [])
            working = client.script_soon("return 7", [f"{prefix}x"], [])
            with pytest.raises(RedisReplyError, match="boom"):
                await failing
            return await working
        finally:
            await client.aclose()

    assert run(go()) == 7


def test_the_database_in_the_url_is_selected(prefix):
    async def go():
        client = LeanRedis(REDIS_URL.rsplit("/", 1)[0] + "/5")
        try:
            await client.execute("SET", f"{prefix}db", "five")
        finally:
            await client.aclose()

    run(go())
    db5 = redis.Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/5")
    try:
        assert db5.get(f"{prefix}db") == b"five"
        assert redis.Redis.from_url(REDIS_URL).get(f"{prefix}db") is None
    finally:
        db5.delete(f"{prefix}db")


def test_error_replies_are_raised():
    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            await client.execute("NOSUCHCOMMAND")
        finally:
            await client.aclose()

    with pytest.raises(RedisReplyError):
        run(go())


def test_a_rejected_password_fails_the_call():
    async def go():
        client = LeanRedis("redis://:wrong-password@127.0.0.1:6379/0")
        try:
            await client.execute("PING")
        finally:
            await client.aclose()

    with pytest.raises(RedisReplyError):
        run(go())


def test_a_silent_server_times_out_and_the_next_call_reconnects():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    accepted = []

    def accept_forever():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept_forever, daemon=True).start()

    async def go():
        client = LeanRedis(f"redis://127.0.0.1:{port}/0", timeout=0.3)
        outcomes = []
        try:
            for _ in range(2):
                try:
                    await client.execute("PING")
                except (TimeoutError, ConnectionError) as exc:
                    outcomes.append(type(exc).__name__)
        finally:
            await client.aclose()
        return outcomes

    try:
        outcomes = run(go())
        deadline = time.monotonic() + 5
        while len(accepted) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        connections = len(accepted)
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
    assert outcomes == ["TimeoutError", "TimeoutError"]
    assert connections == 2


def test_commands_issued_in_one_iteration_leave_in_one_write(prefix):
    script = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            await client.execute("PING")
            before = client.writes
            replies = await asyncio.gather(
                client.execute("SET", f"{prefix}a", "x"),
                client.execute_many([("INCRBY", f"{prefix}n", 2), ("INCRBY", f"{prefix}n", 3)]),
                client.script(script, [f"{prefix}s"], [7]),
                client.execute("GET", f"{prefix}a"),
                client.execute("NOSUCHCOMMAND"),
                client.execute("INCRBY", f"{prefix}n", 5),
                return_exceptions=True,
            )
            return replies, client.writes - before
        finally:
            await client.aclose()

    replies, writes = run(go())
    assert writes == 1
    assert replies[:4] == [b"OK", [2, 5], 7, b"x"]
    assert isinstance(replies[4], RedisReplyError)
    assert replies[5] == 10


def test_replies_match_their_commands_across_many_iterations(prefix):
    async def counter(client, n):
        seen = []
        for _ in range(20):
            seen.append(await client.execute("INCRBY", f"{prefix}{n}", n))
        return seen

    async def go():
        client = LeanRedis(REDIS_URL)
        try:
            results = await asyncio.gather(*(counter(client, n) for n in range(1, 31)))
            return results, client.writes
        finally:
            await client.aclose()

    results, writes = run(go())
    assert results == [[n * i for i in range(1, 21)] for n in range(1, 31)]
    assert writes < 120  # 600 commands: the calls of each round share writes
