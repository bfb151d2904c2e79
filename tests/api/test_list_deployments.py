from tests.api import expect
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory

URL = "/api/v1/deployments/"


def test_deployments_of_every_proxy_are_listed(api, deployment):
    other = DeploymentFactory(proxy=ProxyFactory(provider=deployment.proxy.provider))
    ids = {d["id"] for d in api.get(URL).json()["results"]}
    assert ids == {str(deployment.pk), str(other.pk)}


def test_latest_tags_are_per_proxy_and_gateway(api, deployment):
    DeploymentFactory(
        proxy=ProxyFactory(provider=deployment.proxy.provider), gateway=deployment.gateway
    )
    tags = [d["tags"] for d in api.get(URL).json()["results"]]
    assert tags == [["Latest", "Deployed"], ["Latest", "Deployed"]]


def test_the_list_can_be_filtered_by_proxy(api, deployment):
    DeploymentFactory(proxy=ProxyFactory(provider=deployment.proxy.provider))
    body = api.get(f"{URL}?proxy={deployment.proxy.slug}").json()
    assert [d["id"] for d in body["results"]] == [str(deployment.pk)]


def test_the_list_can_be_filtered_by_gateway(api, deployment):
    DeploymentFactory(proxy=deployment.proxy, gateway=GatewayFactory(name="Second"))
    body = api.get(f"{URL}?gateway={deployment.gateway.slug}").json()
    assert [d["id"] for d in body["results"]] == [str(deployment.pk)]


def test_the_list_can_be_filtered_by_status(api, deployment):
    DeploymentFactory(proxy=deployment.proxy, gateway=deployment.gateway)
    body = api.get(f"{URL}?status=DEPLOYED").json()
    assert body["count"] == 1


def test_a_deployment_is_retrieved_with_its_snapshot(api, deployment):
    body = api.get(f"{URL}{deployment.pk}/").json()
    assert body["snapshot"] == deployment.snapshot


def test_the_flat_list_is_read_only(api, deployment):
    response = api.post(URL, {"gateway": deployment.gateway.slug}, "json")
    expect.error(response, 405, "METHOD_NOT_ALLOWED")


def test_an_unknown_deployment_is_404(api, db):
    expect.error(api.get(f"{URL}00000000-0000-0000-0000-000000000000/"), 404)
