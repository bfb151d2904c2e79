"""Redis stopped under a running gateway: fail-open limits serve, fail-closed ones answer 503,
and both count again once Redis is back. The Redis is a private redis-server of this
module's own, so it can be stopped and started on the same port."""

import pytest

from gateways.models import UsageRecord
from tests.gateway.conftest import wait_until
from tests.gateway.guardrail_world import on_proxy
from tests.gateway.limits_world import Scenario, limit_metrics, requests_limit, serve
from tests.redis_server import started_private_redis

SCENARIOS = {
    "open": Scenario(on_proxy("basic-ratelimit", requests_limit(100, failureMode="open"))),
    "closed": Scenario(on_proxy("basic-ratelimit", requests_limit(100, failureMode="closed"))),
    "budget": Scenario(on_proxy("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": 100}]})),
    "recovering": Scenario(on_proxy("basic-ratelimit", requests_limit(2, failureMode="closed"))),
}


@pytest.fixture(scope="module")
def private_redis():
    yield from started_private_redis()


@pytest.fixture(scope="module")
def world(committed, fake_upstream, start_gateway, private_redis):
    return serve(
        start_gateway,
        fake_upstream.url,
        "limit failures",
        SCENARIOS,
        redis_url=private_redis.url,
    )


@pytest.fixture
def redis_stopped(world, private_redis):
    """Redis stopped for the test, started again (empty) afterwards."""
    private_redis.stop()
    yield private_redis
    if private_redis.process is None:
        private_redis.start()


def test_a_fail_open_limit_serves_without_rate_limit_headers_while_redis_is_stopped(
    world, redis_stopped
):
    response = world.post("open")
    assert response.status_code == 200
    assert "x-ratelimit-limit" not in response.headers


def test_a_fail_closed_limit_answers_503_while_redis_is_stopped(world, redis_stopped):
    response = world.post("closed")
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert response.json()["error"] == {
        "message": "Rate limit basic-ratelimit 100 requests/1h cannot be checked right now.",
        "type": "api_error",
        "code": "rate_limit_unavailable",
    }


def test_the_503_is_recorded_with_the_limit_that_could_not_be_checked(world, redis_stopped):
    world.post("closed")
    records = UsageRecord.objects.filter(proxy=world.proxies["closed"].slug, status_code=503)
    record = wait_until(records.first)
    assert (record.outcome, record.reason) == ("failed", "rate_limit_unavailable:basic-ratelimit")


def test_a_cost_budget_fails_closed_by_default(world, redis_stopped):
    response = world.post("budget", model="gpt-4o")
    assert response.status_code == 503


def test_limits_count_again_once_redis_is_back(world, redis_stopped):
    assert world.post("recovering").status_code == 503
    redis_stopped.start()
    # The limiter retries the store a second after a failure; the restarted Redis is empty.
    first = wait_until(lambda: (r := world.post("recovering")).status_code == 200 and r)
    assert first.headers["x-ratelimit-remaining"] == "1"
    statuses = [world.post("recovering").status_code for _ in range(2)]
    assert statuses == [200, 429]


def test_metrics_count_each_request_served_or_refused_without_the_store(world, redis_stopped):
    before = limit_metrics(world.server)
    assert world.post("open").status_code == 200
    assert world.post("closed").status_code == 503
    after = limit_metrics(world.server)

    def added(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert added("gatehouse_limit_store_failures_total{operation=admit}") == 2
    assert added("gatehouse_limit_unchecked_requests_total{}") == 1
    assert added("gatehouse_limit_unavailable_rejections_total{}") == 1
    assert added("gatehouse_limit_store_failures_total{operation=settle}") == 0
