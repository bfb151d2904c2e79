import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.limits.conftest import NOW, REDIS_URL, ctx, limits, needs_redis, request_limit

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


async def test_exactly_the_limit_passes_across_two_limiter_instances(make_limiter):
    first, second = make_limiter(), make_limiter()
    rules = request_limit(7)
    decisions = await asyncio.gather(
        *(limiter.admit(rules, ctx()) for _ in range(10) for limiter in (first, second))
    )
    assert sum(d.allowed for d in decisions) == 7


async def test_requests_over_the_limit_get_429(make_limiter):
    limiter = make_limiter()
    rules = request_limit(1)
    await limiter.admit(rules, ctx())
    decision = await limiter.admit(rules, ctx())
    assert (decision.allowed, decision.status) == (False, 429)


async def test_the_rejection_names_the_limit_that_rejected(make_limiter):
    limiter = make_limiter()
    rules = limits(
        "basic-ratelimit",
        {"limits": [{"requests": 100, "unit": "hour"}, {"requests": 1, "unit": "minute"}]},
    )
    await limiter.admit(rules, ctx())
    decision = await limiter.admit(rules, ctx())
    assert decision.rejected_label == "basic-ratelimit 1 requests/1m"


async def test_a_rejected_request_consumes_no_other_counter(make_limiter):
    limiter = make_limiter()
    rules = limits(
        "basic-ratelimit",
        {"limits": [{"requests": 3, "unit": "hour"}, {"requests": 1, "unit": "minute"}]},
    )
    for _ in range(5):
        await limiter.admit(rules, ctx())
    hourly = rules.groups[0].default[0]
    assert (await limiter.current_usage(hourly))["used"] == 1


async def test_per_key_limits_isolate_two_keys(make_limiter):
    limiter = make_limiter()
    rules = request_limit(2, scope="per_key")
    for _ in range(3):
        await limiter.admit(rules, ctx(key_id="key-a"))
    decision = await limiter.admit(rules, ctx(key_id="key-b"))
    assert decision.allowed


async def test_a_shared_limit_counts_every_key_together(make_limiter):
    limiter = make_limiter()
    rules = request_limit(2)
    await limiter.admit(rules, ctx(key_id="key-a"))
    await limiter.admit(rules, ctx(key_id="key-b"))
    decision = await limiter.admit(rules, ctx(key_id="key-c"))
    assert not decision.allowed


async def test_a_provider_limit_is_shared_by_every_proxy_of_the_provider(make_limiter):
    from guardrails.limits import compile_limits

    limiter = make_limiter()
    provider = [{"id": 9, "policy": "basic-ratelimit", "params": {"limits": [{"requests": 2}]}}]
    proxy_a, proxy_b = compile_limits([], provider), compile_limits([], provider)
    await limiter.admit(proxy_a, ctx())
    await limiter.admit(proxy_b, ctx())
    decision = await limiter.admit(proxy_a, ctx())
    assert not decision.allowed


async def test_each_resource_has_its_own_counter_when_limits_are_per_resource(make_limiter):
    limiter = make_limiter()
    rules = request_limit(1, perResource=True)
    await limiter.admit(rules, ctx(resource="POST /chat/completions"))
    decision = await limiter.admit(rules, ctx(resource="POST /embeddings"))
    assert decision.allowed


async def test_a_resource_override_replaces_the_default_limit(make_limiter):
    limiter = make_limiter()
    rules = request_limit(
        1,
        perResource=True,
        resources=[{"resource": "POST /chat/completions", "limits": [{"requests": 3}]}],
    )
    decisions = [
        await limiter.admit(rules, ctx(resource="POST /chat/completions")) for _ in range(4)
    ]
    assert [d.allowed for d in decisions] == [True, True, True, False]


async def test_a_resource_override_with_a_parameter_matches_concrete_paths(make_limiter):
    limiter = make_limiter()
    rules = request_limit(
        5,
        perResource=True,
        resources=[{"resource": "GET /models/{model}", "limits": [{"requests": 1}]}],
    )
    await limiter.admit(rules, ctx(resource="GET /models/gpt-4o"))
    decision = await limiter.admit(rules, ctx(resource="GET /models/gpt-4o-mini"))
    assert decision.rejected_label == "basic-ratelimit 1 requests/1m"


async def test_a_route_without_limits_is_allowed_without_headers(make_limiter):
    from guardrails.limits import NO_LIMITS

    decision = await make_limiter().admit(NO_LIMITS, ctx())
    assert (decision.allowed, list(decision.headers), decision.reservation) == (True, [], None)


WORKER = """
import asyncio, sys
from guardrails.limits import Limiter, RedisBackend, LimitContext, compile_limits

async def main(url, prefix, now, attempts):
    limiter = Limiter(RedisBackend.from_url(url), prefix=prefix, clock=lambda: now)
    params = {"limits": [{"requests": 25, "unit": "hour"}]}
    rules = compile_limits([{"id": 1, "policy": "basic-ratelimit", "params": params}], [])
    sys.stdin.readline()  # start together
    decisions = await asyncio.gather(
        *(limiter.admit(rules, LimitContext()) for _ in range(attempts))
    )
    await limiter.close()
    print(sum(d.allowed for d in decisions))

import django
django.setup()
asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
"""


@needs_redis
def test_exactly_the_limit_passes_across_two_os_processes(prefix):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    command = [sys.executable, "-c", WORKER, REDIS_URL, prefix, str(NOW), "40"]
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    allowed = [int(worker.communicate(timeout=60)[0].strip()) for worker in workers]
    assert sum(allowed) == 25
