"""Every list of the management API comes in pages of at most 500 rows, whatever the client
asks for, so no request reads a whole table."""

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from gateways.models import UsageRecord

URL = "/api/v1/usage/"
MAX_LIMIT = 500


@pytest.fixture
def records(db) -> None:
    UsageRecord.objects.bulk_create(
        UsageRecord(
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
            gateway="edge-one",
            proxy="chat-api",
            method="POST",
            resource="/chat/completions",
            status_code=200,
            outcome="ok",
            latency_ms=1.0,
        )
        for _ in range(MAX_LIMIT + 1)
    )


def test_a_huge_limit_returns_one_page_of_the_maximum(api, records):
    body = api.get(URL, {"limit": 10_000_000}).json()
    assert (body["count"], len(body["results"])) == (MAX_LIMIT + 1, MAX_LIMIT)


def test_the_next_link_says_the_limit_used(api, records):
    body = api.get(URL, {"limit": 10_000_000}).json()
    assert parse_qs(urlsplit(body["next"]).query)["limit"] == [str(MAX_LIMIT)]


def test_without_a_limit_a_page_holds_50_rows(api, records):
    assert len(api.get(URL).json()["results"]) == 50


def test_every_list_in_the_schema_documents_the_maximum(anon_api, db):
    schema = json.loads(anon_api.get("/api/schema/", {"format": "json"}).content)
    limits = {}
    for path, operations in schema["paths"].items():
        listed = operations.get("get", {}).get("responses", {}).get("200", {})
        reference = listed.get("content", {}).get("application/json", {}).get("schema", {})
        if reference.get("$ref", "").startswith("#/components/schemas/Paginated"):
            parameters = {p["name"]: p for p in operations["get"].get("parameters", [])}
            limits[path] = parameters["limit"]["schema"].get("maximum")
    assert "/api/v1/usage/" in limits and set(limits.values()) == {MAX_LIMIT}, limits
