"""Spend in the usage API: each record's cost, the list's cost filters, and the summary's sums
in total, over time and by proxy, key and model."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gateways.models import UsageRecord
from tests.api import expect
from tests.factories import ProxyFactory, api_key

LIST = "/api/v1/usage/"
SUMMARY = "/api/v1/usage/summary/"


def record(**fields) -> UsageRecord:
    values = {
        "created_at": timezone.now() - timedelta(minutes=5),
        "gateway": "edge-one",
        "proxy": "chat-api",
        "model": "gpt-4o",
        "method": "POST",
        "status_code": 200,
        "outcome": "ok",
        "latency_ms": 10.0,
        **fields,
    }
    return UsageRecord.objects.create(**values)


@pytest.fixture
def key(db):
    made, _ = api_key(ProxyFactory(name="Chat API"), name="mobile app")
    return made


@pytest.fixture
def spend(key) -> dict[str, UsageRecord]:
    """Four calls that reported tokens (one of a model without a price) and one rejected."""
    return {
        "cached": record(
            api_key=key.pk, cost_usd=Decimal("0.0001"), total_tokens=100, cached_tokens=40
        ),
        "mini": record(model="gpt-4o-mini", cost_usd=Decimal("0.0000025"), total_tokens=50),
        "search": record(proxy="search-api", cost_usd=Decimal("0.0003"), total_tokens=300),
        "unpriced": record(proxy="search-api", model="house-model", total_tokens=20),
        "rejected": record(status_code=429, outcome="rejected"),
    }


def summary(client, **params) -> dict:
    response = client.get(SUMMARY, {"range": "1h", **params})
    assert response.status_code == 200, response.content
    return response.json()


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_record_shows_its_cost_as_a_number(api, spend):
    body = api.get(f"{LIST}{spend['cached'].pk}/").json()
    assert (body["cost_usd"], body["cached_tokens"]) == (0.0001, 40)


def test_records_can_be_filtered_by_whether_they_have_a_cost(api, spend):
    priced = {spend[name].pk for name in ("cached", "mini", "search")}
    assert ids(api.get(LIST, {"priced": "true"})) == priced


def test_records_without_a_cost_can_be_listed(api, spend):
    assert ids(api.get(LIST, {"priced": "false"})) == {
        spend["unpriced"].pk,
        spend["rejected"].pk,
    }


def test_records_can_be_filtered_by_their_cost(api, spend):
    response = api.get(LIST, {"min_cost_usd": "0.0001", "max_cost_usd": "0.0002"})
    assert ids(response) == {spend["cached"].pk}


def test_a_cost_filter_that_is_not_a_number_is_a_field_error(api, db):
    response = api.get(LIST, {"min_cost_usd": "cheap"})
    expect.error(response, 400, "VALIDATION_FAILED", field="min_cost_usd")


def test_the_summary_sums_the_spend(api, spend):
    assert summary(api)["summary"]["cost_usd"] == 0.0004025


def test_the_summary_counts_the_calls_no_price_was_known_for(api, spend):
    assert summary(api)["summary"]["unpriced"] == 1


def test_the_summary_sums_the_cached_input(api, spend):
    assert summary(api)["summary"]["cached_tokens"] == 40


def test_the_trend_spreads_the_spend_over_time_buckets(api, spend):
    trend = summary(api)["trend"]
    assert sum(Decimal(str(b["cost_usd"])) for b in trend) == Decimal("0.0004025")


def test_spend_by_proxy_comes_largest_first(api, spend):
    rows = summary(api)["spend_by_proxy"]
    assert [(r["proxy"], r["requests"], r["cost_usd"]) for r in rows] == [
        ("search-api", 2, 0.0003),
        ("chat-api", 3, 0.0001025),
    ]


def test_spend_by_model_names_each_model(api, spend):
    rows = summary(api)["spend_by_model"]
    assert [(r["model"], r["tokens"]) for r in rows] == [
        ("gpt-4o", 400),
        ("gpt-4o-mini", 50),
        ("house-model", 20),
    ]


def test_spend_by_key_names_the_key(api, spend, key):
    rows = {r["api_key"]: r for r in summary(api)["spend_by_key"]}
    assert (rows[str(key.pk)]["name"], rows[str(key.pk)]["cost_usd"]) == (
        f"mobile app (Chat API, {key.masked})",
        0.0001,
    )


def test_calls_without_a_key_are_summed_apart(api, spend):
    rows = {r["api_key"]: r for r in summary(api)["spend_by_key"]}
    assert (rows[None]["name"], rows[None]["requests"], rows[None]["cost_usd"]) == (
        "",
        4,
        0.0003025,
    )


def test_beyond_eight_the_rest_is_summed_as_other(api, db):
    for index in range(10):
        record(proxy=f"proxy-{index}", cost_usd=Decimal(index + 1) / 1000)
    rows = summary(api)["spend_by_proxy"]
    assert (len(rows), rows[-1]["other"], rows[-1]["proxy"], rows[-1]["cost_usd"]) == (
        9,
        True,
        None,
        0.003,
    )


def test_the_summary_can_be_narrowed_to_a_model(api, spend):
    totals = summary(api, model="gpt-4o")["summary"]
    assert (totals["requests"], totals["cost_usd"]) == (3, 0.0004)
