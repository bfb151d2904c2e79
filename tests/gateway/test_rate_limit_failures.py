"""Redis stopped under a running gateway: fail-open limits serve, fail-closed ones answer 503,
and both count again once Redis is back. The Redis is a private redis-server of this
module's own, so it can be stopped and started on the same port."""

import shutil
import socket
import subprocess

import pytest

from gateways.models import UsageRecord
from tests.gateway.conftest import free_port, wait_until
from tests.gateway.guardrail_world import on_proxy
from tests.gateway.limits_world import Scenario, requests_limit, serve

SCENARIOS = {
    "open": Scenario(on_proxy("basic-ratelimit", requests_limit(100, failureMode="open"))),
    "closed": Scenario(on_proxy("basic-ratelimit", requests_limit(100, failureMode="closed"))),
    "budget": Scenario(on_proxy("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": 100}]})),
    "recovering": Scenario(on_proxy("basic-ratelimit", requests_limit(2, failureMode="closed"))),
}


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._listening, timeout=10)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def private_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


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
