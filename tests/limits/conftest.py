"""Helpers for the rate-limit tests: limiters on real Redis (a unique key prefix per test,
deleted afterwards) or in-process, and compiled limits from plain parameters."""

import asyncio
import os
import socket
import uuid
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from guardrails.limits import LimitContext, Limiter, LimitSet, MemoryBackend, RedisBackend
from guardrails.limits.rules import compile_limits
from tests.redis_server import started_private_redis

# The Redis the suite runs against when ``REDIS_URL`` names one (CI), else the local default.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_reachable(), reason="Redis is not reachable")


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    value = f"gatehouse-test:{uuid.uuid4().hex}:"
    yield value
    if redis_reachable():
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{value}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


# A fixed instant in the middle of a minute and of an hour, so counting tests never straddle
# a window boundary; only the window-reset tests use the real clock.
NOW = 1_800_001_830.25


def fixed_clock() -> float:
    return NOW


@pytest.fixture
async def redis_limiters(prefix):
    """``make(**kwargs)`` builds a limiter with its own Redis client, like one process."""
    if not redis_reachable():
        pytest.skip("Redis is not reachable")
    made: list[Limiter] = []

    def make(**kwargs: Any) -> Limiter:
        kwargs.setdefault("clock", fixed_clock)
        limiter = Limiter(RedisBackend.from_url(REDIS_URL), prefix=prefix, **kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


@pytest.fixture(params=["redis", "memory"])
async def make_limiter(request, prefix):
    """Limiters on each backend, so every semantic test runs on Redis and in-process. Limiters
    made in one test share the store, like processes sharing one Redis."""
    made: list[Limiter] = []
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("Redis is not reachable")

        def backend():
            return RedisBackend.from_url(REDIS_URL)
    else:
        shared = MemoryBackend()

        def backend():
            return shared

    def make(**kwargs: Any) -> Limiter:
        kwargs.setdefault("clock", fixed_clock)
        limiter = Limiter(backend(), prefix=prefix, **kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


@pytest.fixture
def private_redis():
    """A redis-server of this test's own: its command statistics count only this test's
    calls, and the test may stop, restart or pause it."""
    yield from started_private_redis()


@pytest.fixture
async def control(private_redis):
    """A client of the test's own on the private Redis, for pausing it and watching its
    blocked clients."""
    client = aioredis.Redis.from_url(private_redis.url)
    yield client
    await client.client_unpause()
    await client.aclose()


def script_calls(url: str) -> int:
    """How many script calls (``EVALSHA`` and ``EVAL``) Redis has run, by its own count."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


async def held_in_redis(control, count: int = 1) -> None:
    """Poll (with a deadline) until ``count`` script calls wait in a Redis paused with
    ``CLIENT PAUSE ... WRITE`` (blocked clients), so the test knows they are in flight."""
    deadline = asyncio.get_running_loop().time() + 5
    while (await control.info("clients"))["blocked_clients"] != count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the script call never reached Redis")
        await asyncio.sleep(0.01)


def limits(policy: str, params: dict[str, Any], *, attachment_id: int = 1) -> LimitSet:
    """The compiled limits of one attachment on a proxy."""
    return compile_limits(
        [{"id": attachment_id, "policy": policy, "version": "v1", "params": params}], []
    )


def request_limit(count: int, unit: str = "hour", **params: Any) -> LimitSet:
    return limits("basic-ratelimit", {"limits": [{"requests": count, "unit": unit}], **params})


def ctx(**kwargs: Any) -> LimitContext:
    return LimitContext(**kwargs)


def headers_of(decision) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in decision.headers}


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
