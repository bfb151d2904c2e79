"""Two gateway processes of one gateway enforcing one set of limits through Redis."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from guardrails.models import GuardrailAttachment
from guardrails.selectors import attachment_limit_usage
from tests.gateway.conftest import wait_until
from tests.gateway.guardrail_world import on_proxy
from tests.gateway.limits_world import (
    REDIS_URL,
    Scenario,
    delete_keys,
    redis_reachable,
    requests_limit,
    serve,
)

COST = 0.003
BUDGET = 0.0315
SCENARIOS = {
    "requests": Scenario(on_proxy("basic-ratelimit", requests_limit(10))),
    "tokens": Scenario(
        on_proxy("token-based-ratelimit", {"totalTokenLimits": [{"count": 13, "unit": "hour"}]})
    ),
    "budget": Scenario(
        on_proxy(
            "llm-cost-based-ratelimit",
            {
                "budgetLimits": [{"amount": BUDGET, "unit": "month"}],
                "fallbackPrice": {"input": 0, "output": 1000},
            },
        )
    ),
}


@pytest.fixture(scope="module")
def shared(committed, fake_upstream, start_gateway):
    if not redis_reachable():
        pytest.skip("Redis is not reachable")
    world = serve(
        start_gateway,
        fake_upstream.url,
        "shared limits",
        SCENARIOS,
        redis_url=REDIS_URL,
        processes=2,
    )
    yield world
    delete_keys(REDIS_URL, world.prefix)


def test_exactly_the_limit_passes_across_both_processes(shared):
    def call(index: int) -> int:
        return shared.post("requests", server=index % 2).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(call, range(40)))
    assert (statuses.count(200), statuses.count(429)) == (10, 30)


def test_tokens_used_through_one_process_count_in_the_other(shared):
    assert shared.post("tokens", server=0).status_code == 200
    wait_until(lambda: shared.post("tokens", server=1).status_code == 429)


def test_a_budget_hammered_through_both_processes_settles_to_the_cost_of_admitted_requests(
    shared, settings
):
    def call(index: int) -> int:
        response = shared.post(
            "budget",
            server=index % 2,
            model="gatehouse-test-model",
            max_tokens=3,
            headers={"x-fake-delay": "0.05"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(call, range(50)))
    assert statuses.count(200) == 11

    settings.GATEHOUSE_LIMITS_REDIS_URL = REDIS_URL
    settings.GATEHOUSE_LIMITS_KEY_PREFIX = shared.prefix
    attachment = GuardrailAttachment.objects.get(proxy=shared.proxies["budget"])

    def settled():
        (counter,) = attachment_limit_usage(attachment=attachment)
        usage = counter["usage"]
        return usage if usage["reserved"] == 0 else None

    usage = wait_until(settled)
    assert usage["used"] == pytest.approx(11 * COST)
    assert usage["used"] - BUDGET <= COST
    assert (usage["limit"], usage["remaining"], usage["unit"]) == (BUDGET, 0, "USD")
