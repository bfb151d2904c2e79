from gateways import services
from tests.api import expect
from tests.factories import GatewayFactory


def test_gateways_are_listed(api, gateway):
    body = api.get("/api/v1/gateways/").json()
    assert [g["id"] for g in body["results"]] == [gateway.slug]


def test_a_gateway_with_a_recent_heartbeat_is_active(api, gateway):
    services.gateway_process_heartbeat(gateway=gateway, instance_id="proc-1")
    assert api.get(f"/api/v1/gateways/{gateway.slug}/").json()["status"] == "Active"


def test_a_gateway_without_heartbeats_is_not_active(api, gateway):
    assert api.get("/api/v1/gateways/").json()["results"][0]["status"] == "Not Active"


def test_gateways_can_be_filtered_by_environment(api, gateway):
    GatewayFactory(name="Staging", environment="staging")
    body = api.get("/api/v1/gateways/?environment=staging").json()
    assert [g["id"] for g in body["results"]] == ["staging"]


def test_an_unknown_gateway_is_404(api, db):
    expect.error(api.get("/api/v1/gateways/nope/"), 404, "GATEWAY_NOT_FOUND")
