from tests.api import expect
from tests.factories import ProviderFactory, ProxyFactory


def test_proxies_are_listed(api, proxy):
    body = api.get("/api/v1/proxies/").json()
    assert [p["id"] for p in body["results"]] == [proxy.slug]


def test_proxies_can_be_filtered_by_provider(api, proxy):
    ProxyFactory(name="Other", provider=ProviderFactory(name="Elsewhere"))
    body = api.get(f"/api/v1/proxies/?provider={proxy.provider.slug}").json()
    assert [p["id"] for p in body["results"]] == [proxy.slug]


def test_a_proxy_is_retrieved_by_its_id(api, proxy):
    body = api.get(f"/api/v1/proxies/{proxy.slug}/").json()
    assert (body["id"], body["name"]) == ("chat-api", "Chat API")


def test_a_proxy_lists_its_live_deployments(api, deployment):
    body = api.get(f"/api/v1/proxies/{deployment.proxy.slug}/").json()
    assert body["deployments"] == [
        {
            "id": str(deployment.pk),
            "name": deployment.name,
            "gateway": deployment.gateway.slug,
            "status": "DEPLOYED",
            "created_at": body["deployments"][0]["created_at"],
        }
    ]


def test_an_unknown_proxy_is_404(api, db):
    expect.error(api.get("/api/v1/proxies/nope/"), 404, "PROXY_NOT_FOUND")
