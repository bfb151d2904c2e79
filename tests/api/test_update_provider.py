from tests.api import expect
from tests.factories import ProviderFactory

NEW_SECRET = "sk-rotated-plaintext-999"


def url(provider) -> str:
    return f"/api/v1/providers/{provider.slug}/"


def test_a_provider_is_changed_partially(api, provider):
    body = api.patch(url(provider), {"description": "Self-hosted"}, "json").json()
    assert body["description"] == "Self-hosted"
    assert body["name"] == "Local LLM"


def test_rotating_the_credential_records_when_but_never_returns_it(api, provider):
    before = api.get(url(provider)).json()["credential_updated_at"]
    response = api.patch(url(provider), {"credential": NEW_SECRET}, "json")
    assert NEW_SECRET not in response.content.decode()
    assert response.json()["credential_updated_at"] > before


def test_the_template_cannot_be_changed(api, provider):
    response = api.patch(url(provider), {"template": "anthropic"}, "json")
    expect.error(response, 400, field="template")


def test_the_id_cannot_be_changed(api, provider):
    expect.error(api.patch(url(provider), {"id": "other"}, "json"), 400, field="id")


def test_sending_the_same_id_is_accepted(api, provider):
    assert api.patch(url(provider), {"id": provider.slug}, "json").status_code == 200


def test_a_fixed_upstream_url_cannot_be_changed(api, fixed_template):
    provider = ProviderFactory(name="Fixed", template=fixed_template, upstream_url="")
    response = api.patch(url(provider), {"upstream_url": "https://x.example"}, "json")
    expect.error(response, 400, field="upstream_url")


def test_renaming_to_a_taken_name_is_a_conflict(api, provider):
    ProviderFactory(name="Other")
    expect.error(api.patch(url(provider), {"name": "Other"}, "json"), 409, "PROVIDER_EXISTS")


def test_an_invalid_version_is_a_field_error(api, provider):
    expect.error(api.patch(url(provider), {"version": "1.0"}, "json"), 400, field="version")


def test_model_errors_name_the_api_field(api, provider):
    response = api.patch(url(provider), {"access_control": {"exceptions": [{"path": "x"}]}}, "json")
    expect.error(response, 400, field="access_control.exceptions[0].path")
