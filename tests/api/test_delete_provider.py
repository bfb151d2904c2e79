from tests.api import expect


def test_an_unused_provider_is_deleted(api, provider):
    assert api.delete(f"/api/v1/providers/{provider.slug}/").status_code == 204
    assert api.get(f"/api/v1/providers/{provider.slug}/").status_code == 404


def test_a_provider_used_by_proxies_is_a_conflict(api, proxy):
    response = api.delete(f"/api/v1/providers/{proxy.provider.slug}/")
    expect.error(response, 409, "PROVIDER_IN_USE")
