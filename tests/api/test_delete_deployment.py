from tests.api import expect
from tests.factories import DeploymentFactory


def url(deployment) -> str:
    return f"/api/v1/proxies/{deployment.proxy.slug}/deployments/{deployment.pk}/"


def test_a_live_deployment_record_cannot_be_deleted(api, deployment):
    expect.error(api.delete(url(deployment)), 409, "DEPLOYMENT_ACTIVE")


def test_an_archived_deployment_record_is_deleted(api, deployment):
    DeploymentFactory(proxy=deployment.proxy, gateway=deployment.gateway)
    assert api.delete(url(deployment)).status_code == 204
    assert api.get(url(deployment)).status_code == 404
