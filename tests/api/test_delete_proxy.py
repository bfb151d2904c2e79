from tests.api import expect


def test_a_proxy_is_deleted(api, proxy):
    assert api.delete(f"/api/v1/proxies/{proxy.slug}/").status_code == 204


def test_a_deleted_proxy_is_gone(api, deployment):
    api.delete(f"/api/v1/proxies/{deployment.proxy.slug}/")
    expect.error(api.get(f"/api/v1/proxies/{deployment.proxy.slug}/"), 404, "PROXY_NOT_FOUND")


def test_deleting_an_unknown_proxy_is_404(api, db):
    expect.error(api.delete("/api/v1/proxies/nope/"), 404)
