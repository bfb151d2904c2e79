from tests.api import expect
from tests.factories import DeploymentFactory, GatewayFactory


def url(proxy, query: str = "") -> str:
    return f"/api/v1/proxies/{proxy.slug}/deployments/{query}"


def test_history_is_newest_first(api, proxy, gateway):
    first = DeploymentFactory(proxy=proxy, gateway=gateway)
    second = DeploymentFactory(proxy=proxy, gateway=gateway)
    ids = [d["id"] for d in api.get(url(proxy)).json()["results"]]
    assert ids == [str(second.pk), str(first.pk)]


def test_history_tags_mark_latest_and_deployed(api, proxy, gateway):
    first = DeploymentFactory(proxy=proxy, gateway=gateway)
    DeploymentFactory(proxy=proxy, gateway=gateway)
    api.post(url(proxy, f"{first.pk}/restore/"))
    tags = [d["tags"] for d in api.get(url(proxy)).json()["results"]]
    assert tags == [["Latest", "Deployed"], [], []]


def test_latest_is_per_gateway(api, proxy, gateway):
    DeploymentFactory(proxy=proxy, gateway=gateway)
    DeploymentFactory(proxy=proxy, gateway=GatewayFactory(name="Second"))
    tags = [d["tags"] for d in api.get(url(proxy)).json()["results"]]
    assert tags == [["Latest", "Deployed"], ["Latest", "Deployed"]]


def test_only_current_deployments_report_out_of_date(api, proxy, gateway):
    DeploymentFactory(proxy=proxy, gateway=gateway)
    DeploymentFactory(proxy=proxy, gateway=gateway)
    flags = [d["out_of_date"] for d in api.get(url(proxy)).json()["results"]]
    assert flags == [False, None]


def test_history_rows_leave_out_the_snapshot(api, deployment):
    assert "snapshot" not in api.get(url(deployment.proxy)).json()["results"][0]


def test_history_can_be_filtered_by_gateway(api, proxy, gateway):
    DeploymentFactory(proxy=proxy, gateway=gateway)
    DeploymentFactory(proxy=proxy, gateway=GatewayFactory(name="Second"))
    body = api.get(url(proxy, "?gateway=second")).json()
    assert [d["gateway"] for d in body["results"]] == ["second"]


def test_history_can_be_filtered_by_status(api, proxy, gateway):
    DeploymentFactory(proxy=proxy, gateway=gateway)
    DeploymentFactory(proxy=proxy, gateway=gateway)
    body = api.get(url(proxy, "?status=ARCHIVED")).json()
    assert [d["status"] for d in body["results"]] == ["ARCHIVED"]


def test_an_unknown_status_filter_is_a_field_error(api, proxy):
    expect.error(api.get(url(proxy, "?status=SLEEPING")), 400, field="status")


def test_another_proxys_deployment_is_404(api, proxy, deployment):
    other = DeploymentFactory()
    response = api.get(url(proxy, f"{other.pk}/"))
    expect.error(response, 404, "DEPLOYMENT_NOT_FOUND")
