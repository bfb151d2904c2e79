"""The Insights page: totals and charts of usage records, with filters."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from gateways.models import UsageRecord
from tests.admin.form_data import text_of
from tests.factories import ProxyFactory, api_key

pytestmark = pytest.mark.django_db

URL = reverse("admin:gateways_usagerecord_insights")


def record(**fields):
    values = {
        "gateway": "edge",
        "proxy": "chat",
        "method": "POST",
        "resource": "/chat/completions",
        "status_code": 200,
        "outcome": "ok",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "latency_ms": 100.0,
        **fields,
    }
    return UsageRecord.objects.create(**values)


def test_page_renders_with_no_traffic(admin_client):
    response = admin_client.get(URL)

    assert response.status_code == 200 and "No traffic in this range." in text_of(response)


def test_totals_count_requests_latency_and_success(admin_client):
    record(latency_ms=100)
    record(latency_ms=300, status_code=502, outcome="upstream_error")

    summary = admin_client.get(URL).context["summary"]

    assert (summary["requests"], summary["avg_latency_ms"], summary["success_rate"]) == (
        2,
        200.0,
        50.0,
    )


def test_latency_percentiles_and_time_to_first_byte_are_shown(admin_client):
    for latency in (100, 200, 300, 400):
        record(latency_ms=latency, streamed=True, first_byte_ms=latency / 4)

    text = text_of(admin_client.get(URL))

    assert "Latency p50 / p95 / p99" in text and "200.0 / 400.0 / 400.0 ms" in text
    assert "Time to first byte p50 / p95" in text and "50.0 / 100.0 ms" in text


def test_errors_are_grouped_by_kind(admin_client):
    for code in (422, 422, 429, 503, 401):
        record(status_code=code, outcome="rejected")

    errors = {e["label"]: e["value"] for e in admin_client.get(URL).context["errors"]}

    assert errors == {
        "Guardrail (422)": 2,
        "Rate limit (429)": 1,
        "Upstream (5xx)": 1,
        "Key rejected (401/403)": 1,
        "Other client errors (4xx)": 0,
    }


def test_traffic_is_split_across_proxies(admin_client):
    record(proxy="chat")
    record(proxy="chat")
    record(proxy="search")

    traffic = admin_client.get(URL).context["traffic"]

    assert [(t["label"], t["value"]) for t in traffic] == [("chat", 2), ("search", 1)]


def test_request_trend_is_drawn_as_a_chart(admin_client):
    record()

    page = text_of(admin_client.get(URL))

    assert '<polyline class="gh-line"' in page


def test_token_trend_stacks_prompt_and_completion(admin_client):
    record(prompt_tokens=10, completion_tokens=5)

    bars = admin_client.get(URL).context["token_chart"]["bars"]

    assert sorted(b["title"] for b in bars) == ["Completion tokens: 5", "Prompt tokens: 10"]


def test_filter_by_proxy(admin_client):
    record(proxy="chat")
    record(proxy="search")

    assert admin_client.get(URL, {"proxy": "search"}).context["summary"]["requests"] == 1


def test_filter_by_gateway(admin_client):
    record(gateway="edge")
    record(gateway="core")

    assert admin_client.get(URL, {"gateway": "core"}).context["summary"]["requests"] == 1


def test_filter_by_key(admin_client):
    key, _ = api_key(ProxyFactory())
    record(api_key=key.pk)
    record()

    assert admin_client.get(URL, {"api_key": str(key.pk)}).context["summary"]["requests"] == 1


def test_time_range_leaves_out_older_records(admin_client):
    record()
    record(created_at=timezone.now() - timedelta(hours=3))

    assert admin_client.get(URL, {"range": "1h"}).context["summary"]["requests"] == 1


@pytest.mark.parametrize("time_range", ["1h", "24h", "7d", "30d"])
def test_every_time_range_renders(admin_client, time_range):
    record(created_at=timezone.now() - timedelta(minutes=30))

    assert admin_client.get(URL, {"range": time_range}).status_code == 200


def test_viewer_can_see_insights(viewer_client):
    assert viewer_client.get(URL).status_code == 200


def test_staff_without_usage_permission_cannot(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client.force_login(user)

    assert client.get(URL).status_code == 403


def test_total_spend_sums_the_records_costs(admin_client):
    record(cost_usd=Decimal("0.0001"))
    record(cost_usd=Decimal("0.000003"))

    page = admin_client.get(URL)

    assert (page.context["spend"], "$0.000103" in text_of(page)) == ("$0.000103", True)


def test_spend_from_a_dollar_up_shows_cents(admin_client):
    record(cost_usd=Decimal("1234.5"))

    assert admin_client.get(URL).context["spend"] == "$1,234.50"


def test_requests_without_a_price_are_counted(admin_client):
    record(model="house-model", cost_usd=None)

    assert "1 request without a price" in text_of(admin_client.get(URL))


def test_spend_trend_is_drawn_as_bars(admin_client):
    record(cost_usd=Decimal("0.0001"))

    bars = admin_client.get(URL).context["spend_chart"]["bars"]

    assert [b["title"] for b in bars] == ["Spend (USD): $0.000100"]


def test_spend_is_split_by_proxy_largest_first(admin_client):
    record(proxy="chat", cost_usd=Decimal("0.0001"))
    record(proxy="search", cost_usd=Decimal("0.0003"))

    rows = admin_client.get(URL).context["spend_by_proxy"]

    assert [(r["label"], r["cost"]) for r in rows] == [
        ("search", "$0.000300"),
        ("chat", "$0.000100"),
    ]


def test_spend_by_key_names_the_key(admin_client):
    key, _ = api_key(ProxyFactory(name="Chat"), name="mobile app")
    record(api_key=key.pk, cost_usd=Decimal("0.0001"))

    page = text_of(admin_client.get(URL))

    assert f"mobile app (Chat, {key.masked})" in page


def test_spend_is_split_by_model(admin_client):
    record(model="gpt-4o", cost_usd=Decimal("0.0003"))
    record(model="gpt-4o-mini", cost_usd=Decimal("0.0001"))

    rows = admin_client.get(URL).context["spend_by_model"]

    assert [r["label"] for r in rows] == ["gpt-4o", "gpt-4o-mini"]


def test_filter_by_model(admin_client):
    record(model="gpt-4o", cost_usd=Decimal("0.0003"))
    record(model="gpt-4o-mini", cost_usd=Decimal("0.0001"))

    assert admin_client.get(URL, {"model": "gpt-4o-mini"}).context["spend"] == "$0.000100"


def test_the_model_filter_offers_every_model_of_the_range(admin_client):
    record(model="gpt-4o")
    record(model="gpt-4o-mini")

    choices = admin_client.get(URL, {"model": "gpt-4o"}).context["choices"]["models"]

    assert [value for value, _ in choices] == ["gpt-4o", "gpt-4o-mini"]


def test_the_spend_scale_tops_at_a_round_amount(admin_client):
    record(cost_usd=Decimal("0.0000918"))

    assert admin_client.get(URL).context["spend_chart"]["top"] == "$0.0001"
