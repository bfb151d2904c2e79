"""Creating, listing and revoking a proxy's API keys; the secret is shown exactly once."""

from datetime import timedelta

from django.utils import timezone

from tests.api import expect
from tests.factories import ProxyFactory, api_key


def url(proxy, suffix: str = "") -> str:
    return f"/api/v1/proxies/{proxy.slug}/api-keys/{suffix}"


def test_creating_a_key_returns_201_with_the_secret(api, proxy):
    body = expect.created(api.post(url(proxy), {"name": "ci pipeline"}, "json"))
    assert body["key"].startswith("gh-")
    assert body["masked"].endswith(body["key"][-5:])


def test_the_secret_is_not_in_the_list(api, proxy):
    secret = api.post(url(proxy), {"name": "ci pipeline"}, "json").json()["key"]
    listed = api.get(url(proxy))
    assert secret not in listed.content.decode()
    assert "key" not in listed.json()["results"][0]


def test_the_secret_is_not_in_the_detail(api, proxy):
    created = api.post(url(proxy), {"name": "ci pipeline"}, "json").json()
    detail = api.get(url(proxy, f"{created['id']}/"))
    assert created["key"] not in detail.content.decode()


def test_the_list_shows_the_masked_form_and_status(api, proxy):
    key, _ = api_key(proxy, "mobile app")
    row = api.get(url(proxy)).json()["results"][0]
    assert (row["id"], row["masked"], row["status"]) == (str(key.pk), key.masked, "active")


def test_a_key_can_be_limited_to_some_gateways(api, proxy, gateway):
    body = api.post(url(proxy), {"name": "edge only", "gateways": [gateway.slug]}, "json").json()
    assert body["gateways"] == [gateway.slug]


def test_an_unknown_gateway_is_a_field_error(api, proxy):
    response = api.post(url(proxy), {"name": "edge only", "gateways": ["nope"]}, "json")
    expect.error(response, 400, field="gateways")


def test_an_expiry_in_the_future_is_kept(api, proxy):
    expires = (timezone.now() + timedelta(days=90)).isoformat()
    body = api.post(url(proxy), {"name": "quarterly", "expires_at": expires}, "json").json()
    assert body["expires_at"] is not None


def test_an_expiry_in_the_past_is_a_field_error(api, proxy):
    expires = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = api.post(url(proxy), {"name": "stale", "expires_at": expires}, "json")
    expect.error(response, 400, field="expires_at")


def test_a_key_past_its_expiry_reads_expired(api, proxy):
    key, _ = api_key(proxy, "short", expires_at=timezone.now() + timedelta(seconds=30))
    type(key).objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get(url(proxy, f"{key.pk}/")).json()["status"] == "expired"


def test_a_short_name_is_a_field_error(api, proxy):
    expect.error(api.post(url(proxy), {"name": "ab"}, "json"), 400, field="name")


def test_a_missing_name_is_a_field_error(api, proxy):
    expect.error(api.post(url(proxy), {}, "json"), 400, field="name")


def test_a_malformed_expiry_is_a_field_error(api, proxy):
    response = api.post(url(proxy), {"name": "weird", "expires_at": 12}, "json")
    expect.error(response, 400, field="expires_at")


def test_a_duplicate_active_name_is_a_conflict(api, proxy):
    api_key(proxy, "ci pipeline")
    response = api.post(url(proxy), {"name": "ci pipeline"}, "json")
    expect.error(response, 409, "API_KEY_EXISTS")


def test_revoking_returns_204_and_marks_the_key_revoked(api, proxy):
    key, _ = api_key(proxy)
    assert api.delete(url(proxy, f"{key.pk}/")).status_code == 204
    assert api.get(url(proxy, f"{key.pk}/")).json()["status"] == "revoked"


def test_revoking_twice_is_a_conflict(api, proxy):
    key, _ = api_key(proxy)
    api.delete(url(proxy, f"{key.pk}/"))
    expect.error(api.delete(url(proxy, f"{key.pk}/")), 409, "API_KEY_REVOKED")


def test_a_revoked_keys_name_can_be_reused(api, proxy):
    key, _ = api_key(proxy, "ci pipeline")
    api.delete(url(proxy, f"{key.pk}/"))
    assert api.post(url(proxy), {"name": "ci pipeline"}, "json").status_code == 201


def test_another_proxys_key_is_404(api, proxy):
    other_key, _ = api_key(ProxyFactory(provider=proxy.provider))
    expect.error(api.get(url(proxy, f"{other_key.pk}/")), 404, "API_KEY_NOT_FOUND")


def test_a_malformed_key_id_is_404(api, proxy):
    expect.error(api.delete(url(proxy, "not-a-uuid/")), 404, "API_KEY_NOT_FOUND")


def test_keys_of_an_unknown_proxy_are_404(api, db):
    expect.error(api.get("/api/v1/proxies/nope/api-keys/"), 404, "PROXY_NOT_FOUND")
