"""The Routing tab of proxies and providers: routing policies added through the side panel's
schema form, and the state of each target as the gateways report it."""

import time

import pytest
from django.urls import reverse

from gateways.services import gateway_process_heartbeat
from guardrails.models import GuardrailAttachment
from guardrails.services import attachment_create
from tests.admin.form_data import text_of
from tests.factories import (
    DeploymentFactory,
    GatewayFactory,
    GuardrailFactory,
    ProviderFactory,
    ProxyFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def proxy():
    return ProxyFactory(name="Chat", provider=ProviderFactory(name="Primary"))


@pytest.fixture
def backup():
    return ProviderFactory(name="Backup")


def url(owner, view, *args):
    model = owner._meta.model_name
    return reverse(f"admin:proxies_{model}_guardrail_{view}", args=[owner.pk, *args])


def page_of(client, owner) -> str:
    model = owner._meta.model_name
    return text_of(client.get(reverse(f"admin:proxies_{model}_change", args=[owner.pk])))


def test_add_routing_policy_opens_the_catalog_filtered_to_routing(admin_client, proxy):
    response = admin_client.get(url(proxy, "catalog") + "?category=routing&panel=1")

    assert sorted(p["name"] for p in response.context["policies"]) == [
        "model-round-robin",
        "model-weighted-round-robin",
        "provider-failover",
    ]


def test_add_guardrail_leaves_the_routing_policies_out(admin_client, proxy):
    response = admin_client.get(url(proxy, "catalog"))

    assert "provider-failover" not in [p["name"] for p in response.context["policies"]]


def test_a_round_robin_is_added_from_rows_of_model_names(admin_client, proxy):
    data = {"p.models.0.model": "gpt-4o", "p.models.1.model": "gpt-4o-mini"}

    response = admin_client.post(url(proxy, "add", "model-round-robin"), data)

    assert response.status_code == 302 and response["Location"].endswith("#routing")
    attachment = GuardrailAttachment.objects.get(proxy=proxy)
    assert attachment.params["models"] == [{"model": "gpt-4o"}, {"model": "gpt-4o-mini"}]


def test_a_failover_is_added_with_its_retry_reasons_ticked(admin_client, proxy, backup):
    data = {"p.targets.0.provider": backup.slug, "p.retryOn": ["5xx", "timeout"]}

    admin_client.post(url(proxy, "add", "provider-failover"), data)

    params = GuardrailAttachment.objects.get(proxy=proxy).params
    assert (params["targets"], params["retryOn"]) == ([{"provider": "backup"}], ["5xx", "timeout"])


def test_switching_the_circuit_breaker_off_in_the_form_keeps_it_off(admin_client, proxy, backup):
    data = {
        "p.targets.0.provider": backup.slug,
        "p.retryOn": ["5xx"],
        "p.circuitBreaker.failureThreshold": "5",
    }

    admin_client.post(url(proxy, "add", "provider-failover"), data)

    assert GuardrailAttachment.objects.get(proxy=proxy).params["circuitBreaker"]["enabled"] is False


def test_an_unknown_target_shows_next_to_its_row(admin_client, proxy):
    data = {"p.targets.0.provider": "nowhere", "p.retryOn": ["5xx"]}

    response = admin_client.post(url(proxy, "add", "provider-failover"), data)

    field = next(f for f in response.context["group"]["fields"] if f["name"] == "p.targets")
    errors = {cell["name"]: cell["errors"] for row in field["rows"] for cell in row}
    assert errors["p.targets.0.provider"] == ["Unknown provider 'nowhere'."]
    assert response.status_code == 400


def test_the_tab_lists_routing_policies_and_the_guardrails_tab_does_not(admin_client, proxy):
    attachment_create(policy="model-round-robin", params={"models": [{"model": "a"}]}, proxy=proxy)
    GuardrailFactory(proxy=proxy)
    response = admin_client.get(reverse("admin:proxies_proxy_change", args=[proxy.pk]))

    routing = [row["attachment"].policy for row in response.context["routing"]["rows"]]
    guardrails = [row["attachment"].policy for row in response.context["guardrails"]["rows"]]
    assert (routing, guardrails) == (["model-round-robin"], ["word-count-guardrail"])


def test_a_proxy_shows_its_providers_routing_policies(admin_client, proxy, backup):
    attachment_create(
        policy="provider-failover",
        params={"targets": [{"provider": backup.slug}]},
        provider=proxy.provider,
    )

    assert "Falls back to backup" in page_of(admin_client, proxy)


def test_the_page_shows_each_targets_state_from_the_heartbeats(admin_client, proxy, backup):
    attachment_create(
        policy="provider-failover", params={"targets": [{"provider": backup.slug}]}, proxy=proxy
    )
    gateway = GatewayFactory(name="Edge")
    DeploymentFactory(proxy=proxy, gateway=gateway)
    circuit = {"proxy": "chat", "target": "backup", "state": "open", "until": time.time() + 90}
    gateway_process_heartbeat(gateway=gateway, instance_id="p1", hostname="gw1", circuits=[circuit])

    response = admin_client.get(reverse("admin:proxies_proxy_change", args=[proxy.pk]))

    states = {t["target"]: t["state"] for t in response.context["routing"]["state"]["targets"]}
    assert states == {"primary": "closed", "backup": "open"}
    assert 'data-target="backup" data-state="open"' in text_of(response)


def test_a_proxy_not_deployed_says_there_is_no_state_yet(admin_client, proxy):
    assert "Not deployed: deploy the proxy to see the state" in page_of(admin_client, proxy)


def test_a_viewer_sees_the_tab_without_its_buttons(viewer_client, proxy):
    attachment_create(policy="model-round-robin", params={"models": [{"model": "a"}]}, proxy=proxy)

    page = page_of(viewer_client, proxy)

    assert "Model Round Robin" in page and 'id="gh-add-routing"' not in page
