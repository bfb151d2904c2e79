"""The usage summary counts retried requests and failovers from the attempts routed calls
list in their records."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.models import UsageRecord

URL = "/api/v1/usage/summary/"

pytestmark = pytest.mark.django_db


def attempt(target: str, status: int | None, reason: str = "") -> dict:
    return {"target": target, "status": status, "latency_ms": 12.5, "reason": reason}


def record(*attempts: dict, proxy: str = "chat", status: int = 200, **fields) -> UsageRecord:
    values = {
        "created_at": timezone.now() - timedelta(minutes=5),
        "gateway": "edge",
        "proxy": proxy,
        "provider": "primary",
        "method": "POST",
        "status_code": status,
        "outcome": "ok" if status < 400 else "upstream_error",
        "latency_ms": 40.0,
        "details": {"attempts": list(attempts)} if attempts else {},
        **fields,
    }
    return UsageRecord.objects.create(**values)


def routing(api, **params) -> dict:
    response = api.get(URL, {"range": "1h", **params})
    assert response.status_code == 200, response.content
    return response.json()["routing"]


def test_a_call_answered_on_the_first_attempt_is_neither(api):
    record(attempt("primary", 200))
    record()
    assert routing(api) == {"retried": 0, "failovers": 0, "by_proxy": []}


def test_a_second_attempt_on_the_same_provider_is_a_retry_not_a_failover(api):
    record(attempt("primary", 503, "upstream_503"), attempt("primary", 200))
    assert routing(api)["by_proxy"] == [{"proxy": "chat", "retried": 1, "failovers": 0}]


def test_an_answer_from_another_provider_is_a_retry_and_a_failover(api):
    record(attempt("primary", 429, "upstream_429"), attempt("backup/small", 200))
    assert (routing(api)["retried"], routing(api)["failovers"]) == (1, 1)


def test_a_target_skipped_for_its_open_circuit_is_no_attempt(api):
    record(attempt("primary", None, "circuit_open"), attempt("backup", 200))
    assert (routing(api)["retried"], routing(api)["failovers"]) == (0, 1)


def test_a_call_that_failed_everywhere_is_retried_but_no_failover(api):
    record(
        attempt("primary", 503, "upstream_503"), attempt("backup", 503, "upstream_503"), status=503
    )
    assert (routing(api)["retried"], routing(api)["failovers"]) == (1, 0)


def test_counts_are_given_per_proxy_most_first(api):
    record(attempt("primary", 503, "upstream_503"), attempt("backup", 200), proxy="quiet")
    for _ in range(2):
        record(attempt("primary", 503, "upstream_503"), attempt("backup", 200), proxy="busy")
    assert [row["proxy"] for row in routing(api)["by_proxy"]] == ["busy", "quiet"]


def test_the_proxy_filter_applies(api):
    record(attempt("primary", 503, "upstream_503"), attempt("backup", 200), proxy="other")
    assert routing(api, proxy="chat")["retried"] == 0


def test_records_outside_the_range_are_not_counted(api):
    record(
        attempt("primary", 503, "upstream_503"),
        attempt("backup", 200),
        created_at=timezone.now() - timedelta(days=2),
    )
    assert routing(api)["retried"] == 0
