from tests.api import expect

PARAMS = {"request": {"max": 50}}


def url(provider) -> str:
    return f"/api/v1/providers/{provider.slug}/guardrails/"


def test_a_guardrail_is_attached_to_a_provider(api, provider):
    response = api.post(url(provider), {"policy": "word-count-guardrail", "params": PARAMS}, "json")
    body = expect.created(response)
    assert body["params"]["request"]["max"] == 50


def test_a_providers_guardrails_are_listed(api, provider):
    api.post(url(provider), {"policy": "word-count-guardrail", "params": PARAMS}, "json")
    assert api.get(url(provider)).json()["count"] == 1


def test_invalid_params_are_field_errors(api, provider):
    response = api.post(url(provider), {"policy": "word-count-guardrail", "params": {}}, "json")
    expect.error(response, 400, "VALIDATION_FAILED")


def test_an_unknown_provider_in_the_url_is_404(api, db):
    expect.error(api.get("/api/v1/providers/nope/guardrails/"), 404, "PROVIDER_NOT_FOUND")
