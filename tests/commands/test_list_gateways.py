import json

from gateways import services
from tests.factories import GatewayFactory


def _row(out: str, slug: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(slug + " "))


def test_gateway_without_heartbeat_reads_not_active(manage):
    gateway = GatewayFactory()
    out, _ = manage("list_gateways")
    assert _row(out, gateway.slug).endswith("Not Active")


def test_gateway_with_a_recent_heartbeat_reads_active(manage):
    gateway = GatewayFactory()
    services.gateway_process_heartbeat(gateway=gateway, instance_id="proc-1")
    out, _ = manage("list_gateways")
    assert _row(out, gateway.slug).endswith(" Active")


def test_json_lists_every_gateway_with_its_status(manage):
    live, idle = GatewayFactory(), GatewayFactory()
    services.gateway_process_heartbeat(gateway=live, instance_id="proc-1")
    out, _ = manage("list_gateways", "--json")
    assert {g["id"]: g["active"] for g in json.loads(out)} == {live.slug: True, idle.slug: False}
