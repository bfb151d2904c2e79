"""A gateway's metrics at ``/_gatehouse/metrics``: with several worker processes, whichever
worker answers a scrape reports the counts of all of them."""

import pytest

from tests.gateway.guardrail_world import on_proxy
from tests.gateway.limits_world import Scenario, limit_metrics, requests_limit, serve
from tests.limits.conftest import closed_port

SCENARIOS = {
    "open": Scenario(on_proxy("basic-ratelimit", requests_limit(100, failureMode="open"))),
}
REQUESTS = 12


@pytest.fixture(scope="module")
def world(committed, fake_upstream, start_gateway):
    unreachable = f"redis://127.0.0.1:{closed_port()}/0"
    return serve(
        start_gateway, fake_upstream.url, "metrics", SCENARIOS, redis_url=unreachable, workers=2
    )


def test_any_worker_reports_what_every_worker_served_without_the_store(world):
    for _ in range(REQUESTS):  # a connection each: the workers share them out
        assert world.post("open").status_code == 200
    for _ in range(6):  # a connection each: any worker may answer
        counts = limit_metrics(world.server)
        assert counts["gatehouse_limit_unchecked_requests_total{}"] == REQUESTS
        assert counts["gatehouse_limit_store_failures_total{operation=admit}"] == REQUESTS
