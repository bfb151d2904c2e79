"""Attaching the payload log through the API: its defaults, and the refusals."""

import pytest

from tests.api import expect

pytestmark = pytest.mark.django_db


def attach(api, proxy, params: dict):
    return api.post(
        f"/api/v1/proxies/{proxy.slug}/guardrails/",
        {"policy": "payload-log", "params": params},
        "json",
    )


def test_it_is_in_the_catalog_as_a_logging_policy(api):
    response = api.get("/api/v1/guardrails/catalog/")
    assert response.status_code == 200, response.content
    rows = response.json()
    rows = rows.get("results", rows) if isinstance(rows, dict) else rows
    (found,) = [row for row in rows if row["name"] == "payload-log"]
    assert (found["category"], found["phases"]) == ("logging", [])


def test_it_is_attached_with_redaction_on_by_default(api, proxy):
    response = attach(api, proxy, {})
    assert response.status_code == 201, response.content
    params = response.json()["params"]
    assert (params["destination"], params["maxBytes"]) == ("details", 4096)
    assert params["email"] and params["phone"] and params["ssn"]


def test_keeping_neither_body_is_refused(api, proxy):
    response = attach(api, proxy, {"request": False, "response": False})
    expect.error(response, 400, "VALIDATION_FAILED", field="params")


def test_an_unknown_destination_is_a_field_error(api, proxy):
    response = attach(api, proxy, {"destination": "s3"})
    expect.error(response, 400, "VALIDATION_FAILED", field="params.destination")


def test_a_custom_entity_must_be_a_valid_pattern(api, proxy):
    bad = {"customPIIEntities": [{"piiEntity": "TICKET", "piiRegex": "(unclosed"}]}
    response = attach(api, proxy, bad)
    expect.error(response, 400, "VALIDATION_FAILED", field="params.customPIIEntities.0.piiRegex")
