"""Moving a provider to another upstream URL through the API: the address rule and the new
credential it needs when the provider holds one."""

from tests.api import expect
from tests.factories import ProviderFactory

NEW_URL = "http://127.0.0.1:9999/v1"


def url(provider) -> str:
    return f"/api/v1/providers/{provider.slug}/"


def test_a_new_url_without_a_credential_is_a_credential_field_error(api, provider):
    response = api.patch(url(provider), {"upstream_url": NEW_URL}, "json")
    expect.error(response, 400, "CREDENTIAL_REQUIRED", field="credential")


def test_a_refused_url_change_leaves_the_provider_as_it_was(api, provider):
    api.patch(url(provider), {"upstream_url": NEW_URL}, "json")
    assert api.get(url(provider)).json()["upstream_url"] == "http://127.0.0.1:9/v1"


def test_a_new_url_with_a_new_credential_is_saved(api, provider):
    body = api.patch(
        url(provider), {"upstream_url": NEW_URL, "credential": "sk-new"}, "json"
    ).json()
    assert (body["upstream_url"], body["has_credential"]) == (NEW_URL, True)


def test_a_new_url_with_an_empty_credential_removes_the_old_one(api, provider):
    body = api.patch(url(provider), {"upstream_url": NEW_URL, "credential": ""}, "json").json()
    assert (body["upstream_url"], body["has_credential"]) == (NEW_URL, False)


def test_a_provider_without_a_credential_changes_its_url_alone(api):
    provider = ProviderFactory(name="Keyless", credential="")
    body = api.patch(url(provider), {"upstream_url": NEW_URL}, "json").json()
    assert body["upstream_url"] == NEW_URL


def test_a_metadata_address_is_an_upstream_url_field_error(api, provider):
    response = api.patch(
        url(provider),
        {"upstream_url": "http://169.254.169.254/latest", "credential": "sk-new"},
        "json",
    )
    expect.error(response, 400, "UPSTREAM_ADDRESS_REFUSED", field="upstream_url")


def test_registering_a_provider_on_a_private_address_is_refused(api):
    response = api.post(
        "/api/v1/providers/",
        {"name": "Inside", "template": "openai-compatible", "upstream_url": "http://10.0.0.5/v1"},
        "json",
    )
    expect.error(response, 400, "UPSTREAM_ADDRESS_REFUSED", field="upstream_url")


def test_a_custom_template_on_a_private_address_is_refused(api):
    response = api.post(
        "/api/v1/templates/",
        {"id": "inside", "display_name": "Inside", "upstream_url": "http://192.168.0.10/v1"},
        "json",
    )
    expect.error(response, 400, "UPSTREAM_ADDRESS_REFUSED", field="upstream_url")
