"""The usage summary: the Insights page's numbers for a proxy, gateway, key and time range."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.models import UsageRecord
from tests.api import expect

URL = "/api/v1/usage/summary/"
KEY = uuid.uuid4()


def record(ago: timedelta = timedelta(minutes=5), **fields) -> UsageRecord:
    values = {
        "created_at": timezone.now() - ago,
        "gateway": "edge-one",
        "proxy": "chat-api",
        "method": "POST",
        "status_code": 200,
        "outcome": "ok",
        "latency_ms": 10.0,
        **fields,
    }
    return UsageRecord.objects.create(**values)


@pytest.fixture
def traffic(db) -> None:
    """Three requests in the last hour (one OK, one rate-limited, one upstream failure) and
    one from two days ago."""
    record(status_code=200, latency_ms=10, total_tokens=30, prompt_tokens=10, api_key=KEY)
    record(status_code=429, outcome="rejected", latency_ms=20, proxy="other-api")
    record(status_code=502, outcome="upstream_error", latency_ms=60, total_tokens=5)
    record(ago=timedelta(days=2), status_code=200, latency_ms=1000, total_tokens=1000)


def summary(client, **params) -> dict:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_summary_totals_the_records_in_range(api, traffic):
    assert summary(api, range="1h")["summary"] == {
        "requests": 3,
        "avg_latency_ms": 30.0,
        "latency_ms": {"p50": 20.0, "p95": 60.0, "p99": 60.0},
        "first_byte_ms": {"p50": None, "p95": None, "p99": None},
        "success_rate": 33.3,
        "tokens": 35,
        "cached_tokens": 0,
        "cost_usd": 0.0,
        "unpriced": 2,
    }


def test_latency_percentiles_are_nearest_rank_over_the_records(api, db):
    for latency in range(1, 101):  # 1 ms ... 100 ms
        record(latency_ms=float(latency), first_byte_ms=float(latency) / 2, streamed=True)
    record(latency_ms=5000.0)  # a plain answer: no first byte time
    totals = summary(api, range="1h")["summary"]
    assert totals["latency_ms"] == {"p50": 51.0, "p95": 96.0, "p99": 100.0}
    assert totals["first_byte_ms"] == {"p50": 25.0, "p95": 47.5, "p99": 49.5}


def test_a_longer_range_counts_older_records(api, traffic):
    assert summary(api, range="7d")["summary"]["requests"] == 4


def test_the_range_defaults_to_the_last_24_hours(api, traffic):
    body = summary(api)
    assert (body["range"]["key"], body["summary"]["requests"]) == ("24h", 3)


def test_the_range_tells_its_label_and_bucket_width(api, db):
    window = summary(api, range="1h")["range"]
    assert (window["label"], window["bucket_seconds"]) == ("Last hour", 60)


def test_without_records_the_success_rate_is_null(api, db):
    assert summary(api, range="1h")["summary"]["success_rate"] is None


def test_the_trend_spreads_the_requests_over_time_buckets(api, traffic):
    trend = summary(api, range="1h")["trend"]
    totals = (
        sum(b["requests"] for b in trend),
        sum(b["errors"] for b in trend),
        sum(b["prompt"] for b in trend),
    )
    assert totals == (3, 2, 10)


def test_traffic_is_split_by_proxy_busiest_first(api, traffic):
    assert summary(api, range="1h")["traffic_by_proxy"] == [
        {"proxy": "chat-api", "requests": 2},
        {"proxy": "other-api", "requests": 1},
    ]


def test_errors_are_counted_by_kind(api, traffic):
    kinds = {row["kind"]: row["count"] for row in summary(api, range="1h")["errors_by_kind"]}
    assert kinds == {"guardrail": 0, "rate_limit": 1, "upstream": 1, "auth": 0, "other": 0}


@pytest.mark.parametrize(
    ("params", "requests"),
    [
        ({"proxy": "other-api"}, 1),
        ({"gateway": "edge-one"}, 3),
        ({"gateway": "edge-two"}, 0),
        ({"api_key": str(KEY)}, 1),
        ({"proxy": "", "gateway": "", "api_key": ""}, 3),
    ],
)
def test_the_summary_can_be_narrowed(api, traffic, params, requests):
    assert summary(api, range="1h", **params)["summary"]["requests"] == requests


def test_an_unknown_range_is_a_field_error(api, db):
    expect.error(api.get(URL, {"range": "2y"}), 400, "VALIDATION_FAILED", field="range")


def test_a_malformed_api_key_is_a_field_error(api, db):
    expect.error(api.get(URL, {"api_key": "nope"}), 400, "VALIDATION_FAILED", field="api_key")


def test_a_viewer_reads_the_summary(viewer_api, traffic):
    assert summary(viewer_api, range="1h")["summary"]["requests"] == 3


def test_an_anonymous_summary_is_401(anon_api, db):
    expect.error(anon_api.get(URL), 401, "UNAUTHORIZED")
