"""A cost budget under concurrency: reservations keep the overshoot within one request.

The budget prices the fake model at 0 USD input and 1000 USD per million output tokens,
and every request asks for ``max_tokens=3`` while the fake upstream reports 3 completion
tokens: each request reserves exactly what it ends up costing (0.003 USD). A budget of
0.0315 USD then admits exactly 11 requests whatever their interleaving (10 leave 0.0015
of room, the 11th overshoots by less than one reservation)."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from guardrails.services import model_price_create
from tests.gateway.conftest import wait_for_revision, wait_until
from tests.gateway.guardrail_world import on_proxy
from tests.gateway.limits_world import Scenario, backend_world, serve

MODEL = "gatehouse-test-model"
COST = 0.003
BUDGET = 0.0315
PARAMS = {
    "budgetLimits": [{"amount": BUDGET, "unit": "month"}],
    "fallbackPrice": {"input": 0, "output": 1000},
}
SCENARIOS = {
    "hammered": Scenario(on_proxy("llm-cost-based-ratelimit", PARAMS)),
    "headers": Scenario(on_proxy("llm-cost-based-ratelimit", PARAMS)),
    "refunded": Scenario(on_proxy("llm-cost-based-ratelimit", PARAMS)),
    "priced": Scenario(
        on_proxy("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": BUDGET}]})
    ),
}


@pytest.fixture(scope="module", params=["redis", "memory"])
def limited(request, committed, fake_upstream, start_gateway):
    def start(redis_url):
        name = f"budget {request.param}"
        return serve(start_gateway, fake_upstream.url, name, SCENARIOS, redis_url=redis_url)

    return backend_world(request, start)


def spend(limited, name: str) -> httpx.Response:
    return limited.post(name, model=MODEL, max_tokens=3, headers={"x-fake-delay": "0.05"})


def test_fifty_concurrent_requests_overshoot_the_budget_by_at_most_one_reservation(limited):
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: spend(limited, "hammered"), range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 11
    assert statuses.count(429) == 39


def test_cost_headers_are_in_nano_dollars_and_dollars(limited):
    response = spend(limited, "headers")
    assert response.status_code == 200
    headers = response.headers
    assert headers["x-ratelimit-limit"] == "31500000"
    assert headers["x-ratelimit-remaining"] == "28500000"
    assert headers["x-ratelimit-cost-limit-dollars"] == "0.031500"
    assert headers["x-ratelimit-cost-remaining-dollars"] == "0.028500"


def test_a_price_added_in_the_admin_reaches_the_running_gateway(limited):
    model = f"gatehouse-priced-{limited.prefix.split(':')[1]}"
    model_price_create(model=model, input_per_million=0, output_per_million=1000)
    wait_for_revision(limited.server)
    response = limited.post("priced", model=model, max_tokens=3)
    assert response.headers["x-ratelimit-remaining"] == "28500000"


def test_an_upstream_error_gives_its_reservation_back(limited):
    def failed() -> httpx.Response:
        return limited.post(
            "refunded",
            model=MODEL,
            max_tokens=3,
            headers={"x-fake-status": "500", "x-fake-body": "{}"},
        )

    # Each response's headers count its own reservation; earlier ones were released.
    assert failed().headers["x-ratelimit-remaining"] == "28500000"
    wait_until(lambda: failed().headers["x-ratelimit-remaining"] == "28500000")
