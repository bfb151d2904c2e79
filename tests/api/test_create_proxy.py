import pytest

from proxies import services
from tests.api import expect
from tests.factories import ProviderFactory, ProxyFactory

URL = "/api/v1/proxies/"


def test_creating_a_proxy_returns_201_with_its_id_and_location(api, provider):
    body = expect.created(api.post(URL, {"name": "My Chat_API v2"}, "json"))
    assert body["id"] == "my-chat-api-v2"


def test_defaults_are_resolved_in_the_response(api, provider):
    body = api.post(URL, {"name": "Chat"}, "json").json()
    assert (body["provider"], body["version"], body["context"]) == (provider.slug, "v1.0", "/")


def test_the_default_provider_is_the_most_recently_updated(api, provider):
    ProviderFactory(name="Newer")
    services.provider_update(provider=provider, description="touched after Newer")
    assert api.post(URL, {"name": "Chat"}, "json").json()["provider"] == provider.slug


def test_the_context_is_normalised(api, provider):
    body = api.post(URL, {"name": "Chat", "context": "chat//v1/"}, "json").json()
    assert body["context"] == "/chat/v1"


def test_a_new_proxy_inherits_the_providers_inbound_key(api, provider):
    body = api.post(URL, {"name": "Chat"}, "json").json()
    assert body["inbound_key"] == {"in": "header", "name": "Authorization", "prefix": "Bearer "}
    assert body["inbound_key_inherited"] is True


def test_an_unknown_provider_is_a_field_error_not_a_404(api, provider):
    response = api.post(URL, {"name": "Chat", "provider": "nope"}, "json")
    expect.error(response, 400, "VALIDATION_FAILED", field="provider")


def test_without_any_provider_the_proxy_cannot_be_created(api):
    expect.error(api.post(URL, {"name": "Chat"}, "json"), 400, "PROVIDER_REQUIRED", "provider")


def test_a_missing_name_is_a_field_error(api, provider):
    expect.error(api.post(URL, {"description": "x"}, "json"), 400, field="name")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ["Chat"]}, "name"),
        ({"version": 1.0}, "version"),
        ({"context": {"path": "/"}}, "context"),
        ({"provider": 7}, "provider"),
        ({"resources": "all"}, "resources"),
        ({"version": "1.0"}, "version"),
        ({"context": "/bad path"}, "context"),
    ],
)
def test_bad_input_is_a_field_error(api, provider, payload, field):
    response = api.post(URL, {"name": "Chat", **payload}, "json")
    expect.error(response, 400, field=field)


def test_a_duplicate_name_is_a_conflict(api, provider):
    ProxyFactory(name="Chat", provider=provider)
    expect.error(api.post(URL, {"name": "CHAT"}, "json"), 409, "PROXY_EXISTS")


def test_a_name_whose_id_is_taken_gets_a_suffixed_id(api, provider):
    ProxyFactory(name="Chat API", provider=provider)
    body = api.post(URL, {"name": "Chat-API"}, "json").json()
    assert body["id"].startswith("chat-api-") and body["id"] != "chat-api"
