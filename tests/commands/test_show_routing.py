"""show_routing PROXY: the routing targets of a deployed proxy and their state."""

import json
import time

import pytest
from django.core.management.base import CommandError

from gateways.services import gateway_process_heartbeat
from guardrails.services import attachment_create
from tests.factories import DeploymentFactory, GatewayFactory, ProviderFactory, ProxyFactory


@pytest.fixture
def deployed(db):
    """A proxy on Primary, failing over to Backup, deployed on Edge with one process that
    sees Backup's circuit open."""
    proxy = ProxyFactory(name="Chat", provider=ProviderFactory(name="Primary"))
    backup = ProviderFactory(name="Backup")
    attachment_create(
        policy="provider-failover", params={"targets": [{"provider": backup.slug}]}, proxy=proxy
    )
    gateway = GatewayFactory(name="Edge")
    DeploymentFactory(proxy=proxy, gateway=gateway)
    circuit = {"proxy": "chat", "target": "backup", "state": "open", "until": time.time() + 60}
    gateway_process_heartbeat(
        gateway=gateway, instance_id="p1", hostname="gw1", pid=42, circuits=[{**circuit}]
    )
    return proxy


def test_prints_a_row_per_target_with_its_state(manage, deployed):
    out, _ = manage("show_routing", "chat")
    lines = out.splitlines()
    assert lines[0].split() == ["TARGET", "ROLE", "STATE", "UNTIL", "FAILURES", "SEEN", "BY"]
    assert lines[1].split()[:3] == ["primary", "primary", "closed"]
    assert lines[2].split()[:3] == ["backup", "failover", "open"]
    assert lines[2].endswith("edge@gw1:42")


def test_json_gives_the_same_as_the_api(manage, deployed):
    out, _ = manage("show_routing", "chat", "--json")
    assert [t["state"] for t in json.loads(out)["targets"]] == ["closed", "open"]


def test_a_proxy_not_deployed_says_so(manage):
    ProxyFactory(name="Idle")
    out, err = manage("show_routing", "idle")
    assert out == "" and "not deployed" in err


def test_an_unknown_proxy_fails_in_one_line(manage):
    with pytest.raises(CommandError, match="No proxy 'nowhere'"):
        manage("show_routing", "nowhere")
