from tests.api import expect


def test_an_idle_gateway_is_deleted(api, gateway):
    assert api.delete(f"/api/v1/gateways/{gateway.slug}/").status_code == 204


def test_a_gateway_with_live_deployments_is_a_conflict(api, deployment):
    response = api.delete(f"/api/v1/gateways/{deployment.gateway.slug}/")
    expect.error(response, 409, "GATEWAY_HAS_ACTIVE_DEPLOYMENTS")


def test_a_gateway_is_deleted_once_its_deployments_are_stopped(api, deployment):
    api.post(f"/api/v1/proxies/{deployment.proxy.slug}/deployments/{deployment.pk}/stop/")
    assert api.delete(f"/api/v1/gateways/{deployment.gateway.slug}/").status_code == 204
