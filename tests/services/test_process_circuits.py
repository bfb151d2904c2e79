"""Gateway processes report the circuits they see at each heartbeat."""

import pytest

from gateways.models import GatewayProcess
from gateways.services import gateway_process_heartbeat
from tests.factories import GatewayFactory

pytestmark = pytest.mark.django_db

OPEN = {"proxy": "chat", "target": "backup", "state": "open", "until": 1900000000, "failures": 5}


def beat(gateway, circuits) -> list:
    gateway_process_heartbeat(gateway=gateway, instance_id="p1", circuits=circuits)
    return GatewayProcess.objects.get(instance_id="p1").circuits


def test_a_heartbeat_stores_the_circuits_reported():
    assert beat(GatewayFactory(), [OPEN]) == [{**OPEN, "until": 1900000000.0}]


def test_the_next_heartbeat_replaces_them():
    gateway = GatewayFactory()
    beat(gateway, [OPEN])
    assert beat(gateway, []) == []


def test_a_heartbeat_without_circuits_stores_none():
    gateway = GatewayFactory()
    gateway_process_heartbeat(gateway=gateway, instance_id="p1")
    assert GatewayProcess.objects.get(instance_id="p1").circuits == []


@pytest.mark.parametrize(
    "row",
    [
        "open",
        {**OPEN, "state": "exploded"},
        {**OPEN, "until": "soon"},
        {**OPEN, "failures": "many"},
        {key: value for key, value in OPEN.items() if key != "target"},
    ],
)
def test_a_malformed_row_is_dropped(row):
    assert beat(GatewayFactory(), [row, OPEN]) == [{**OPEN, "until": 1900000000.0}]
