"""Listing usage records: newest first, paginated, filtered, read-only."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from gateways.models import UsageRecord
from proxies import services as proxy_services
from tests.api import expect
from tests.factories import UserFactory

URL = "/api/v1/usage/"
NOON = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(**fields) -> UsageRecord:
    values = {
        "created_at": NOON,
        "gateway": "edge-one",
        "proxy": "chat-api",
        "provider": "local-llm",
        "model": "gpt-4o",
        "method": "POST",
        "resource": "/chat/completions",
        "status_code": 200,
        "outcome": "ok",
        "latency_ms": 12.5,
        **fields,
    }
    return UsageRecord.objects.create(**values)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_records_are_listed_newest_first(api):
    old = record(created_at=NOON - timedelta(hours=1))
    new = record(created_at=NOON)
    assert ids(api.get(URL)) == [new.pk, old.pk]


def test_a_record_shows_every_field(api):
    key = uuid.uuid4()
    row = record(api_key=key, prompt_tokens=3, completion_tokens=4, total_tokens=7)
    body = api.get(f"{URL}{row.pk}/").json()
    assert body == {
        "id": row.pk,
        "created_at": "2026-11-01T12:00:00Z",
        "gateway": "edge-one",
        "proxy": "chat-api",
        "deployment": None,
        "api_key": str(key),
        "provider": "local-llm",
        "model": "gpt-4o",
        "method": "POST",
        "resource": "/chat/completions",
        "status_code": 200,
        "outcome": "ok",
        "reason": "",
        "streamed": False,
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "cached_tokens": None,
        "cost_usd": None,
        "latency_ms": 12.5,
        "upstream_latency_ms": None,
        "first_byte_ms": None,
        "details": {},
    }


def test_the_list_is_paginated_with_limit_and_offset(api):
    rows = [record(created_at=NOON - timedelta(minutes=i)) for i in range(5)]
    body = api.get(URL, {"limit": 2, "offset": 2}).json()
    assert (body["count"], [r["id"] for r in body["results"]]) == (5, [rows[2].pk, rows[3].pk])


def test_records_of_the_same_instant_never_repeat_across_pages(api):
    rows = [record() for _ in range(4)]
    first = ids(api.get(URL, {"limit": 2}))
    second = ids(api.get(URL, {"limit": 2, "offset": 2}))
    assert sorted(first + second) == sorted(r.pk for r in rows)


@pytest.mark.parametrize(
    ("params", "matching"),
    [
        ({"proxy": "other-api"}, {"proxy": "other-api"}),
        ({"gateway": "edge-two"}, {"gateway": "edge-two"}),
        ({"provider": "openai"}, {"provider": "openai"}),
        ({"model": "claude-3.5/sonnet"}, {"model": "claude-3.5/sonnet"}),
        ({"outcome": "upstream_error"}, {"outcome": "upstream_error", "status_code": 502}),
        ({"status_code": "429"}, {"status_code": 429, "outcome": "rejected"}),
        ({"streamed": "true"}, {"streamed": True}),
    ],
)
def test_records_can_be_filtered(api, params, matching):
    record()
    wanted = record(**matching)
    assert ids(api.get(URL, params)) == [wanted.pk]


def test_records_can_be_filtered_by_api_key(api):
    key = uuid.uuid4()
    record(api_key=uuid.uuid4())
    wanted = record(api_key=key)
    assert ids(api.get(URL, {"api_key": str(key)})) == [wanted.pk]


def test_since_is_inclusive_and_until_exclusive(api):
    record(created_at=NOON - timedelta(seconds=1))
    at_start = record(created_at=NOON)
    record(created_at=NOON + timedelta(hours=1))
    params = {"since": "2026-11-01T12:00:00Z", "until": "2026-11-01T13:00:00+00:00"}
    assert ids(api.get(URL, params)) == [at_start.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"api_key": "not-a-uuid"}, "api_key"),
        ({"since": "yesterday"}, "since"),
        ({"outcome": "great"}, "outcome"),
        ({"status_code": "abc"}, "status_code"),
    ],
)
def test_a_bad_filter_value_is_a_field_error(api, params, field):
    expect.error(api.get(URL, params), 400, "VALIDATION_FAILED", field=field)


def test_an_unknown_record_is_404(api):
    expect.error(api.get(f"{URL}999/"), 404, "NOT_FOUND")


def test_records_cannot_be_written(api):
    row = record()
    assert api.post(URL, {}, "json").status_code == 405
    assert api.delete(f"{URL}{row.pk}/").status_code == 405


def test_anonymous_requests_are_401(anon_api, db):
    expect.error(anon_api.get(URL), 401, "UNAUTHORIZED")


def test_a_viewer_reads_records(viewer_api):
    row = record()
    assert ids(viewer_api.get(URL)) == [row.pk]


def test_reading_records_needs_the_view_permission(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_gateway"))
    _, secret = proxy_services.management_token_create(user=user, expires_at=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    expect.error(client.get(URL), 403, "FORBIDDEN")
