from tests.api import expect
from tests.factories import ProviderFactory, ProxyFactory


def url(proxy) -> str:
    return f"/api/v1/proxies/{proxy.slug}/"


def test_a_proxy_is_changed_partially(api, proxy):
    body = api.patch(url(proxy), {"description": "Support bot"}, "json").json()
    assert (body["description"], body["name"]) == ("Support bot", "Chat API")


def test_renaming_keeps_the_proxy_id(api, proxy):
    body = api.patch(url(proxy), {"name": "Renamed"}, "json").json()
    assert body["id"] == "chat-api"


def test_changing_the_id_is_refused(api, proxy):
    expect.error(api.patch(url(proxy), {"id": "other-id"}, "json"), 400, field="id")


def test_the_provider_can_be_switched(api, proxy):
    other = ProviderFactory(name="Second")
    assert api.patch(url(proxy), {"provider": other.slug}, "json").json()["provider"] == "second"


def test_switching_to_an_unknown_provider_is_a_field_error(api, proxy):
    expect.error(api.patch(url(proxy), {"provider": "nope"}, "json"), 400, field="provider")


def test_renaming_to_a_taken_name_is_a_conflict(api, proxy):
    ProxyFactory(name="Other", provider=proxy.provider)
    expect.error(api.patch(url(proxy), {"name": "other"}, "json"), 409, "PROXY_EXISTS")


def test_an_own_inbound_key_overrides_the_providers(api, proxy):
    body = api.patch(
        url(proxy), {"inbound_key": {"in": "header", "name": "X-Key", "prefix": ""}}, "json"
    ).json()
    assert body["inbound_key"] == {"in": "header", "name": "X-Key", "prefix": ""}
    assert body["inbound_key_inherited"] is False


def test_resources_are_normalised(api, proxy):
    body = api.patch(
        url(proxy), {"resources": [{"method": "post", "path": "/chat/completions"}]}, "json"
    ).json()
    assert body["resources"] == [{"method": "POST", "path": "/chat/completions"}]


def test_put_is_not_offered(api, proxy):
    expect.error(api.put(url(proxy), {"name": "X"}, "json"), 405, "METHOD_NOT_ALLOWED")
