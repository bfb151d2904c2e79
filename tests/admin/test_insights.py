"""The Insights page: totals and charts of usage records, with filters."""

from datetime import timedelta

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
