"""GET /api/v1/proxies/{id}/routing/: the routing targets of a deployed proxy and the state
its gateways' processes report at their heartbeats."""

import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from gateways.models import GatewayProcess
from gateways.services import gateway_process_heartbeat
from guardrails.services import attachment_create
from tests.api import expect
from tests.factories import DeploymentFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed(proxy, gateway):
    """A proxy deployed with a failover to Backup and a round robin over two models."""
    backup = ProviderFactory(name="Backup")
    attachment_create(
        policy="provider-failover",
        params={"targets": [{"provider": backup.slug, "model": "small"}]},
        proxy=proxy,
    )
    attachment_create(
        policy="model-round-robin",
        params={"models": [{"model": "m1"}, {"model": "m2"}]},
        proxy=proxy,
    )
    DeploymentFactory(proxy=proxy, gateway=gateway)
    return proxy


def beat(gateway, instance: str, *circuits: dict) -> None:
    gateway_process_heartbeat(
        gateway=gateway, instance_id=instance, hostname="gw-host", pid=7, circuits=list(circuits)
    )


def circuit(target: str, state: str, *, until=None, failures=0, proxy="chat-api") -> dict:
    """A circuit row as a gateway process reports it at its heartbeat."""
    return {"proxy": proxy, "target": target, "state": state, "until": until, "failures": failures}


def routing(api, proxy) -> dict:
    response = api.get(f"/api/v1/proxies/{proxy.slug}/routing/")
    assert response.status_code == 200, response.content
    return response.json()


def target(body: dict, name: str) -> dict:
    return next(t for t in body["targets"] if t["target"] == name)


def test_targets_come_in_order_provider_failover_then_models(api, routed):
    body = routing(api, routed)
    assert [(t["target"], t["role"]) for t in body["targets"]] == [
        ("local-llm", "primary"),
        ("backup/small", "failover"),
        ("local-llm/m1", "model"),
        ("local-llm/m2", "model"),
    ]


def test_targets_nobody_reports_are_closed(api, routed, gateway):
    beat(gateway, "p1")
    assert {t["state"] for t in routing(api, routed)["targets"]} == {"closed"}


def test_an_open_circuit_shows_with_its_end_and_the_process_seeing_it(api, routed, gateway):
    until = time.time() + 30
    beat(gateway, "p1", circuit("backup/small", "open", until=until, failures=5))
    shown = target(routing(api, routed), "backup/small")
    assert (shown["state"], shown["failures"]) == ("open", 5)
    assert datetime.fromisoformat(shown["until"]).timestamp() == pytest.approx(until, abs=0.01)
    assert [(p["gateway"], p["hostname"]) for p in shown["processes"]] == [("edge-one", "gw-host")]


def test_a_suspended_round_robin_model_shows_as_suspended(api, routed, gateway):
    beat(gateway, "p1", circuit("local-llm/m2", "suspended", until=time.time() + 30))
    assert target(routing(api, routed), "local-llm/m2")["state"] == "suspended"


def test_the_worst_state_among_processes_wins(api, routed, gateway):
    beat(gateway, "p1", circuit("local-llm", "half_open", failures=5))
    beat(gateway, "p2", circuit("local-llm", "open", until=time.time() + 10, failures=6))
    shown = target(routing(api, routed), "local-llm")
    assert (shown["state"], [p["instance_id"] for p in shown["processes"]]) == ("open", ["p2"])


def test_a_process_no_longer_beating_is_not_heard(api, routed, gateway):
    beat(gateway, "p1", circuit("local-llm", "open", until=time.time() + 30, failures=5))
    GatewayProcess.objects.filter(instance_id="p1").update(
        last_seen_at=timezone.now() - timedelta(minutes=5)
    )
    assert target(routing(api, routed), "local-llm")["state"] == "closed"


def test_circuits_of_other_proxies_are_not_shown(api, routed, gateway):
    beat(gateway, "p1", circuit("local-llm", "open", failures=5, proxy="another"))
    assert target(routing(api, routed), "local-llm")["state"] == "closed"


def test_a_proxy_not_deployed_has_no_targets(api, proxy):
    assert routing(api, proxy) == {"proxy": "chat-api", "gateways": [], "targets": []}


def test_an_unknown_proxy_is_not_found(api):
    expect.error(api.get("/api/v1/proxies/nowhere/routing/"), 404)


def test_a_viewer_may_read_the_routing_state(viewer_api, routed):
    assert viewer_api.get(f"/api/v1/proxies/{routed.slug}/routing/").status_code == 200


def test_the_openapi_schema_documents_the_routing_state(api):
    schema = api.get("/api/schema/?format=json").json()
    assert "/api/v1/proxies/{slug}/routing/" in schema["paths"]
