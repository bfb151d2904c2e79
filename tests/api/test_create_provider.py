import pytest

from proxies.models import Provider
from tests.api import expect
from tests.factories import ProviderFactory

URL = "/api/v1/providers/"
SECRET = "sk-live-plaintext-credential-42"


def test_creating_a_provider_returns_201_with_its_id_and_location(api):
    body = expect.created(
        api.post(URL, {"name": "OpenAI Prod", "template": "openai", "credential": SECRET}, "json")
    )
    assert body["id"] == "openai-prod"


def test_the_template_fills_in_upstream_url_and_inbound_key(api):
    body = api.post(URL, {"name": "OpenAI", "template": "openai"}, "json").json()
    assert body["upstream_url"] == "https://api.openai.com/v1"
    assert body["inbound_key"] == {"in": "header", "name": "Authorization", "prefix": "Bearer "}


def test_the_credential_is_never_returned(api):
    response = api.post(URL, {"name": "OpenAI", "template": "openai", "credential": SECRET}, "json")
    assert SECRET not in response.content.decode()
    assert "credential" not in response.json()
    assert response.json()["has_credential"] is True


def test_the_credential_is_stored_encrypted(api):
    api.post(URL, {"name": "OpenAI", "template": "openai", "credential": SECRET}, "json")
    assert SECRET not in Provider.objects.get().credential_ciphertext


def test_nested_settings_are_saved(api):
    body = api.post(
        URL,
        {
            "name": "Guarded",
            "template": "openai",
            "access_control": {
                "mode": "deny_all",
                "exceptions": [{"method": "post", "path": "/chat/completions"}],
            },
            "allowed_models": ["gpt-4o-mini"],
            "timeouts": {"connect": 2, "read": 30},
        },
        "json",
    ).json()
    assert body["access_control"] == {
        "mode": "deny_all",
        "exceptions": [{"method": "POST", "path": "/chat/completions"}],
    }
    assert body["allowed_models"] == ["gpt-4o-mini"]
    assert body["timeouts"] == {"connect": 2.0, "read": 30.0, "first_byte": None, "total": None}


def test_openai_compatible_needs_an_upstream_url(api):
    response = api.post(URL, {"name": "vLLM", "template": "openai-compatible"}, "json")
    expect.error(response, 400, field="upstream_url")


def test_a_fixed_upstream_url_cannot_be_overridden(api, fixed_template):
    response = api.post(
        URL,
        {"name": "O", "template": fixed_template.slug, "upstream_url": "https://evil.example"},
        "json",
    )
    expect.error(response, 400, field="upstream_url")


@pytest.mark.parametrize("template", ["openai", "anthropic", "gemini", "mistral"])
def test_every_builtin_template_takes_a_regional_or_egress_url(api, template):
    body = api.post(
        URL,
        {"name": "Regional", "template": template, "upstream_url": "https://eu.llm.example/v1"},
        "json",
    ).json()
    assert body["upstream_url"] == "https://eu.llm.example/v1"


def test_the_templates_url_is_the_default(api):
    body = api.post(URL, {"name": "Plain", "template": "openai"}, "json").json()
    assert body["upstream_url"] == "https://api.openai.com/v1"


@pytest.mark.parametrize("template", ["azure-openai", "aws-bedrock", "openai-compatible"])
def test_editable_templates_take_the_given_upstream_url(api, template):
    body = api.post(
        URL,
        {"name": "Mine", "template": template, "upstream_url": "https://llm.example.com/"},
        "json",
    ).json()
    assert body["upstream_url"] == "https://llm.example.com"


def test_an_unknown_template_is_a_field_error(api):
    response = api.post(URL, {"name": "X", "template": "nope"}, "json")
    expect.error(response, 400, "VALIDATION_FAILED", field="template")


def test_missing_fields_are_listed(api):
    body = expect.error(api.post(URL, {}, "json"), 400)
    assert expect.fields(body) == {"name", "template"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": 123}, "name"),
        ({"credential": 7}, "credential"),
        ({"allowed_models": "gpt-4o"}, "allowed_models"),
        ({"timeouts": {"connect": "fast"}}, "timeouts.connect"),
        ({"access_control": {"mode": "maybe"}}, "access_control.mode"),
        (
            {"access_control": {"exceptions": [{"method": "FETCH", "path": "/x"}]}},
            "access_control.exceptions[0].method",
        ),
        ({"inbound_key": {"in": "cookie"}}, "inbound_key.in"),
    ],
)
def test_wrong_types_are_field_errors(api, payload, field):
    response = api.post(URL, {"name": "Typed", "template": "openai", **payload}, "json")
    expect.error(response, 400, field=field)


def test_an_invalid_name_is_a_field_error(api):
    response = api.post(URL, {"name": "bad/name!", "template": "openai"}, "json")
    expect.error(response, 400, field="name")


def test_a_duplicate_name_is_a_conflict(api):
    ProviderFactory(name="Taken")
    response = api.post(URL, {"name": "taken", "template": "openai"}, "json")
    expect.error(response, 409, "PROVIDER_EXISTS")
