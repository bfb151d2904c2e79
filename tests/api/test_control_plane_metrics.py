"""The control plane's metrics at ``/metrics``: deployments by status, gateways active or not,
and management API errors, with exact counts after known changes."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from deployments.services import deploy
from gateways.services import gateway_process_heartbeat
from tests.factories import GatewayFactory, ProxyFactory


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.mark.django_db
def test_deployments_and_gateways_are_counted(client):
    live = GatewayFactory(name="live")
    GatewayFactory(name="idle")
    gateway_process_heartbeat(gateway=live, instance_id="one")
    for name in ("one", "two"):
        deploy(proxy=ProxyFactory(name=f"proxy {name}"), gateway=live)
    found = scrape(client)
    assert found[("gatehouse_deployments", (("status", "DEPLOYED"),))] == 2
    assert found[("gatehouse_gateways", (("active", "true"),))] == 1
    assert found[("gatehouse_gateways", (("active", "false"),))] == 1


@pytest.mark.django_db
def test_api_errors_are_counted_by_status_and_code(client, api):
    response = api.get("/api/v1/proxies/no-such-proxy/")
    assert response.status_code == 404
    labels = (("code", response.json()["code"]), ("status", "404"))
    first = scrape(client)[("gatehouse_api_errors_total", labels)]
    api.get("/api/v1/proxies/no-such-proxy/")
    assert scrape(client)[("gatehouse_api_errors_total", labels)] == first + 1
