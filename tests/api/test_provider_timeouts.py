"""A provider's timeouts through the API: connect, read, first byte and total."""

import pytest

from tests.api import expect

URL = "/api/v1/providers/"

pytestmark = pytest.mark.django_db


def create(api, timeouts):
    return api.post(URL, {"name": "Timed", "template": "openai", "timeouts": timeouts}, "json")


def test_first_byte_and_total_timeouts_are_saved(api):
    body = create(api, {"first_byte": 5, "total": 90}).json()
    assert body["timeouts"] == {"connect": 10.0, "read": 120.0, "first_byte": 5.0, "total": 90.0}


def test_first_byte_and_total_have_no_limit_by_default(api):
    body = create(api, {}).json()
    assert (body["timeouts"]["first_byte"], body["timeouts"]["total"]) == (None, None)


def test_null_removes_a_limit(api):
    slug = create(api, {"total": 90}).json()["id"]
    body = api.patch(f"{URL}{slug}/", {"timeouts": {"total": None}}, "json").json()
    assert body["timeouts"]["total"] is None


def test_a_first_byte_timeout_longer_than_the_total_is_refused(api):
    expect.error(create(api, {"first_byte": 60, "total": 30}), 400, field="timeouts.first_byte")


def test_a_zero_total_timeout_is_refused(api):
    expect.error(create(api, {"total": 0}), 400, field="timeouts.total")
