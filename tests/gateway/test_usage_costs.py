"""What a call costs: priced once from the pricing table when it ends, cached input and cache
writes at their own prices, recorded on its usage row and charged, to the nano-dollar, to its
cost budgets. A model without a price costs nothing, says so, and is served all the same."""

from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateways.models import UsageRecord
from guardrails.models import GuardrailAttachment
from guardrails.selectors import attachment_limit_usage
from guardrails.services import model_price_create
from tests.gateway.conftest import wait_for_revision, wait_until
from tests.gateway.guardrail_world import chat, on_proxy
from tests.gateway.limits_world import REDIS_URL, Scenario, delete_keys, redis_reachable, serve

MODEL = "claude-sonnet-4-5-20250929"
CACHED = {"x-fake-cached-tokens": "6", "x-fake-cache-write-tokens": "4"}
# claude-sonnet-4-5 per million tokens: $3 input, $0.30 cached input, $3.75 cache writes, $15
# output; the fake upstream reports 10 uncached, 6 read and 4 written input tokens, 3 output.
COST = Decimal("0.000091800")
SCENARIOS = {
    "budgeted": Scenario(
        on_proxy("llm-cost-based-ratelimit", {"budgetLimits": [{"amount": 10}]}), api="anthropic"
    ),
    "open": Scenario(api="anthropic"),
    "house": Scenario(api="anthropic"),
}


@pytest.fixture(scope="module")
def world(committed, fake_upstream, start_gateway):
    """The proxies on one gateway, counting in Redis when it is reachable (so the control
    plane can read what a budget was charged)."""
    redis_url = REDIS_URL if redis_reachable() else None
    served = serve(start_gateway, fake_upstream.url, "costs", SCENARIOS, redis_url=redis_url)
    yield served
    if redis_url:
        delete_keys(redis_url, served.prefix)


@pytest.fixture
def usage_row():
    """``usage_row(world, name)``: the one usage record the proxy got since the test started."""
    last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def one(world, name: str) -> UsageRecord:
        rows = UsageRecord.objects.filter(id__gt=last, proxy=world.proxies[name].slug)
        return wait_until(lambda: rows.first() if rows.count() == 1 else None, timeout=5)

    return one


def message(world, name: str, model: str = MODEL, **headers: str):
    return world.anthropic(name).messages.create(
        model=model, max_tokens=64, messages=chat("hello"), extra_headers=headers or None
    )


def unpriced_calls(world, provider: str) -> float:
    response = httpx.get(f"{world.server.url}/_gatehouse/metrics", timeout=5)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if (
                sample.name == "gatehouse_usage_unpriced_total"
                and sample.labels.get("provider") == provider
            ):
                return sample.value
    return 0.0


def test_the_usage_row_prices_cached_input_and_cache_writes_at_their_own_prices(
    world, upstream, usage_row
):
    message(world, "open", **CACHED)
    assert usage_row(world, "open").cost_usd == COST


def test_the_usage_row_counts_cache_reads_and_keeps_cache_writes_in_its_details(
    world, upstream, usage_row
):
    message(world, "open", **CACHED)
    row = usage_row(world, "open")
    assert (row.prompt_tokens, row.cached_tokens, row.details["cache_write_tokens"]) == (20, 6, 4)


def test_a_streamed_answer_costs_what_a_plain_one_does(world, upstream, usage_row):
    with world.anthropic("open").messages.stream(
        model=MODEL, max_tokens=64, messages=chat("hello"), extra_headers=CACHED
    ) as stream:
        stream.get_final_message()
    assert usage_row(world, "open").cost_usd == COST


def test_a_cost_budget_is_charged_exactly_what_the_usage_row_records(
    world, upstream, usage_row, settings
):
    if world.redis_url is None:
        pytest.skip("Redis is not reachable: the budget's count stays inside the gateway")
    settings.GATEHOUSE_LIMITS_REDIS_URL = world.redis_url
    settings.GATEHOUSE_LIMITS_KEY_PREFIX = world.prefix
    attachment = GuardrailAttachment.objects.get(proxy=world.proxies["budgeted"])
    message(world, "budgeted", **CACHED)
    cost = usage_row(world, "budgeted").cost_usd

    def spent():
        (counter,) = attachment_limit_usage(attachment=attachment)
        usage = counter["usage"]
        return usage if usage["reserved"] == 0 and usage["used"] else None

    assert Decimal(str(wait_until(spent)["used"])) == cost


def test_a_model_without_a_price_is_served_and_recorded_without_a_cost(world, upstream, usage_row):
    answer = message(world, "open", model="house-model-unpriced")
    row = usage_row(world, "open")
    assert (answer.content[0].text, row.total_tokens, row.cost_usd) == ("echo: hello", 13, None)


def test_a_model_without_a_price_is_counted(world, upstream, usage_row):
    provider = world.proxies["open"].provider.slug
    before = unpriced_calls(world, provider)
    message(world, "open", model="house-model-unpriced")
    usage_row(world, "open")
    assert unpriced_calls(world, provider) == before + 1


def test_a_price_added_later_prices_the_next_call_of_a_proxy_without_budgets(
    world, upstream, usage_row
):
    model_price_create(
        model="house-model-priced", input_per_million=Decimal("1"), output_per_million=2
    )
    wait_for_revision(world.server)
    message(world, "house", model="house-model-priced")
    # 10 input tokens at $1 and 3 output tokens at $2 per million.
    assert usage_row(world, "house").cost_usd == Decimal("0.000016")
