from tests.api import expect
from tests.factories import DeploymentFactory


def url(deployment, action: str = "restore/") -> str:
    return f"/api/v1/proxies/{deployment.proxy.slug}/deployments/{deployment.pk}/{action}"


def test_restoring_serves_the_earlier_snapshot_as_a_new_deployment(api, deployment):
    api.patch(f"/api/v1/proxies/{deployment.proxy.slug}/", {"context": "/v2"}, "json")
    DeploymentFactory(proxy=deployment.proxy, gateway=deployment.gateway)
    body = expect.created(api.post(url(deployment)))
    assert body["restored_from"] == str(deployment.pk)
    assert body["snapshot"]["proxy"]["context"] == "/"


def test_a_restored_deployment_is_latest_and_deployed(api, deployment):
    api.post(url(deployment, "stop/"))
    assert api.post(url(deployment)).json()["tags"] == ["Latest", "Deployed"]


def test_a_restore_can_carry_a_reason(api, deployment):
    api.post(url(deployment, "stop/"))
    body = api.post(url(deployment), {"reason": "Roll back"}, "json").json()
    assert body["reason"] == "Roll back"


def test_restoring_the_live_deployment_is_a_conflict(api, deployment):
    expect.error(api.post(url(deployment)), 409, "DEPLOYMENT_RESTORE_CONFLICT")
