"""Attaching routing policies through the API: round robins and failover on proxies and
providers, and the refusals (unknown target, other wire format, bad params, a second one)."""

import pytest

from tests.api import expect
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def backup(db):
    return ProviderFactory(name="Backup", template="openai")


def attach(api, proxy, policy: str, params: dict):
    return api.post(
        f"/api/v1/proxies/{proxy.slug}/guardrails/", {"policy": policy, "params": params}, "json"
    )


def test_a_round_robin_is_attached_with_its_defaults(api, proxy):
    response = attach(api, proxy, "model-round-robin", {"models": [{"model": "a"}, {"model": "b"}]})
    assert response.status_code == 201, response.content
    assert response.json()["params"]["suspendDuration"] == 30


def test_a_weighted_round_robin_is_attached(api, proxy):
    models = [{"model": "a", "weight": 3}, {"model": "b", "weight": 1}]
    response = attach(api, proxy, "model-weighted-round-robin", {"models": models})
    assert response.json()["params"]["models"] == models


def test_a_failover_is_attached_with_its_defaults(api, proxy, backup):
    response = attach(api, proxy, "provider-failover", {"targets": [{"provider": backup.slug}]})
    assert response.status_code == 201, response.content
    assert response.json()["params"]["circuitBreaker"]["cooldownSeconds"] == 30


def test_a_failover_is_attached_to_a_provider(api, provider, backup):
    response = api.post(
        f"/api/v1/providers/{provider.slug}/guardrails/",
        {"policy": "provider-failover", "params": {"targets": [{"provider": backup.slug}]}},
        "json",
    )
    assert response.status_code == 201, response.content


def test_an_unknown_target_is_a_field_error(api, proxy):
    response = attach(api, proxy, "provider-failover", {"targets": [{"provider": "nowhere"}]})
    expect.error(response, 400, "VALIDATION_FAILED", field="params.targets.0.provider")


def test_a_target_of_another_wire_format_is_a_field_error(api, proxy):
    claude = ProviderFactory(name="Claude", template="anthropic")
    response = attach(api, proxy, "provider-failover", {"targets": [{"provider": claude.slug}]})
    body = expect.error(response, 400, field="params.targets.0.provider")
    assert "anthropic API" in body["message"]


def test_bad_params_are_field_errors(api, proxy, backup):
    params = {"targets": [{"provider": backup.slug}], "maxAttempts": 0}
    expect.error(attach(api, proxy, "provider-failover", params), 400, field="params.maxAttempts")


def test_a_second_round_robin_is_a_conflict(api, proxy):
    attach(api, proxy, "model-round-robin", {"models": [{"model": "a"}]})
    response = attach(
        api, proxy, "model-weighted-round-robin", {"models": [{"model": "a", "weight": 1}]}
    )
    expect.error(response, 409, "ROUTING_POLICY_EXISTS", field="policy")


def test_changing_a_failovers_targets_checks_them(api, proxy, backup):
    made = attach(api, proxy, "provider-failover", {"targets": [{"provider": backup.slug}]})
    response = api.patch(
        f"/api/v1/proxies/{proxy.slug}/guardrails/{made.json()['id']}/",
        {"params": {"targets": [{"provider": "nowhere"}]}},
        "json",
    )
    expect.error(response, 400, field="params.targets.0.provider")


def test_deleting_a_provider_named_as_a_target_is_a_conflict(api, proxy, backup):
    attach(api, proxy, "provider-failover", {"targets": [{"provider": backup.slug}]})
    response = api.delete(f"/api/v1/providers/{backup.slug}/")
    body = expect.error(response, 409, "PROVIDER_IN_USE")
    assert "failover target" in body["message"]


def test_the_catalog_describes_routing_policies(api):
    body = api.get("/api/v1/guardrails/catalog/provider-failover/").json()
    assert (body["category"], body["phases"]) == ("routing", [])


def test_policies_a_failover_would_bypass_are_field_errors(api, proxy, backup):
    response = api.post(
        f"/api/v1/providers/{backup.slug}/guardrails/",
        {"policy": "pii-masking-regex", "params": {"email": True}},
        "json",
    )
    assert response.status_code == 201, response.content
    response = attach(api, proxy, "provider-failover", {"targets": [{"provider": backup.slug}]})
    body = expect.error(response, 400, "VALIDATION_FAILED", field="params.targets.0.provider")
    assert "would not pass" in body["message"]
