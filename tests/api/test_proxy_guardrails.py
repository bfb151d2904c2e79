import pytest

from tests.api import expect
from tests.factories import GuardrailFactory

POLICY = "word-count-guardrail"


def url(proxy, suffix: str = "") -> str:
    return f"/api/v1/proxies/{proxy.slug}/guardrails/{suffix}"


def attach(api, proxy, maximum: int = 100) -> dict:
    return api.post(url(proxy), {"policy": POLICY, "params": {"request": {"max": maximum}}}, "json")


def test_a_guardrail_is_attached_with_201_and_location(api, proxy):
    body = expect.created(attach(api, proxy))
    assert (body["policy"], body["version"], body["enabled"]) == (POLICY, "v1", True)


def test_attached_params_have_the_schema_defaults_filled_in(api, proxy):
    params = attach(api, proxy).json()["params"]
    assert params["request"]["min"] == 0
    assert params["request"]["enabled"] is True


def test_missing_required_params_are_field_errors(api, proxy):
    response = api.post(url(proxy), {"policy": POLICY, "params": {"request": {}}}, "json")
    expect.error(response, 400, "VALIDATION_FAILED", field="params.request.max")


def test_params_breaking_a_rule_are_field_errors(api, proxy):
    params = {"request": {"min": 10, "max": 5}}
    response = api.post(url(proxy), {"policy": POLICY, "params": params}, "json")
    expect.error(response, 400, field="params.request.min")


def test_params_of_the_wrong_type_are_field_errors(api, proxy):
    params = {"request": {"max": "many"}}
    response = api.post(url(proxy), {"policy": POLICY, "params": params}, "json")
    expect.error(response, 400, field="params.request.max")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"policy": POLICY, "params": []}, "params"),
        ({"policy": 5}, "policy"),
        ({"params": {}}, "policy"),
        ({"policy": POLICY, "params": {"request": {"max": 5}}, "enabled": "yes"}, "enabled"),
        ({"policy": POLICY, "params": {"request": {"max": 5}}, "order": -1}, "order"),
    ],
)
def test_bad_input_is_a_field_error(api, proxy, payload, field):
    expect.error(api.post(url(proxy), payload, "json"), 400, field=field)


def test_an_unknown_policy_is_a_field_error(api, proxy):
    response = api.post(url(proxy), {"policy": "nope", "params": {}}, "json")
    expect.error(response, 400, "UNKNOWN_POLICY", field="policy")


def test_guardrails_are_listed_in_chain_order(api, proxy):
    first, second = attach(api, proxy, 10).json(), attach(api, proxy, 20).json()
    ids = [g["id"] for g in api.get(url(proxy)).json()["results"]]
    assert ids == [first["id"], second["id"]]


def test_a_guardrail_can_be_disabled(api, proxy):
    guardrail = GuardrailFactory(proxy=proxy)
    body = api.patch(url(proxy, f"{guardrail.pk}/"), {"enabled": False}, "json").json()
    assert body["enabled"] is False


def test_params_can_be_changed(api, proxy):
    guardrail = GuardrailFactory(proxy=proxy)
    params = {"request": {"max": 7}}
    body = api.patch(url(proxy, f"{guardrail.pk}/"), {"params": params}, "json").json()
    assert body["params"]["request"]["max"] == 7


def test_changed_params_are_validated(api, proxy):
    guardrail = GuardrailFactory(proxy=proxy)
    response = api.patch(url(proxy, f"{guardrail.pk}/"), {"params": {"nope": 1}}, "json")
    expect.error(response, 400, "VALIDATION_FAILED")


def test_the_policy_of_an_attachment_cannot_change(api, proxy):
    guardrail = GuardrailFactory(proxy=proxy)
    response = api.patch(url(proxy, f"{guardrail.pk}/"), {"policy": "other"}, "json")
    expect.error(response, 400, field="policy")


def test_a_guardrail_is_detached(api, proxy):
    guardrail = GuardrailFactory(proxy=proxy)
    assert api.delete(url(proxy, f"{guardrail.pk}/")).status_code == 204
    assert api.get(url(proxy)).json()["count"] == 0


def test_the_chain_is_reordered(api, proxy):
    first, second = GuardrailFactory(proxy=proxy), GuardrailFactory(proxy=proxy)
    response = api.post(url(proxy, "reorder/"), {"ids": [second.pk, first.pk]}, "json")
    assert [g["id"] for g in response.json()] == [second.pk, first.pk]


def test_reordering_must_name_every_guardrail_once(api, proxy):
    first, _ = GuardrailFactory(proxy=proxy), GuardrailFactory(proxy=proxy)
    response = api.post(url(proxy, "reorder/"), {"ids": [first.pk]}, "json")
    expect.error(response, 400, field="ids")


def test_another_proxys_guardrail_is_404(api, proxy):
    other = GuardrailFactory()
    expect.error(api.get(url(proxy, f"{other.pk}/")), 404, "GUARDRAIL_NOT_FOUND")


def test_an_unknown_proxy_in_the_url_is_404(api, db):
    expect.error(api.get("/api/v1/proxies/nope/guardrails/"), 404, "PROXY_NOT_FOUND")
