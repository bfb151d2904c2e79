"""The Insights page counts retried requests and failovers, by proxy."""

import pytest
from django.urls import reverse

from gateways.models import UsageRecord
from tests.admin.form_data import text_of

pytestmark = pytest.mark.django_db

URL = reverse("admin:gateways_usagerecord_insights")


def routed(proxy: str, *targets: str) -> UsageRecord:
    """A call that tried ``targets`` in turn, the last one answering."""
    attempts = [
        {"target": t, "status": 503, "latency_ms": 5.0, "reason": "upstream_503"}
        for t in targets[:-1]
    ]
    attempts.append({"target": targets[-1], "status": 200, "latency_ms": 9.0, "reason": ""})
    return UsageRecord.objects.create(
        gateway="edge",
        proxy=proxy,
        provider="primary",
        method="POST",
        status_code=200,
        outcome="ok",
        latency_ms=20.0,
        details={"attempts": attempts},
    )


def test_the_totals_count_retried_requests_and_failovers(admin_client):
    routed("chat", "primary", "primary")
    routed("chat", "primary", "backup")

    routing = admin_client.get(URL).context["routing"]

    assert (routing["retried"], routing["failovers"]) == (2, 1)


def test_the_page_lists_them_by_proxy(admin_client):
    routed("chat", "primary", "backup")

    page = text_of(admin_client.get(URL))

    assert "Retries and failovers by proxy" in page and "<td>chat</td><td>1</td><td>1</td>" in page


def test_without_routed_calls_the_page_says_so(admin_client):
    assert "No retries or failovers in this range." in text_of(admin_client.get(URL))
