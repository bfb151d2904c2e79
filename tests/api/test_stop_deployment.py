from tests.api import expect


def url(deployment) -> str:
    return f"/api/v1/proxies/{deployment.proxy.slug}/deployments/{deployment.pk}/stop/"


def test_stopping_undeploys(api, deployment):
    body = api.post(url(deployment)).json()
    assert body["status"] == "UNDEPLOYED"
    assert body["stopped_at"] is not None


def test_a_stopped_deployment_loses_the_deployed_tag(api, deployment):
    assert api.post(url(deployment)).json()["tags"] == ["Latest"]


def test_stopping_twice_is_a_conflict(api, deployment):
    api.post(url(deployment))
    expect.error(api.post(url(deployment)), 409, "DEPLOYMENT_NOT_ACTIVE")


def test_stopping_an_unknown_deployment_is_404(api, proxy):
    response = api.post(f"/api/v1/proxies/{proxy.slug}/deployments/not-a-uuid/stop/")
    expect.error(response, 404, "DEPLOYMENT_NOT_FOUND")
