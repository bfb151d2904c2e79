"""Registering gateways, issuing their tokens and deleting them in the admin."""

import re

import pytest
from django.urls import reverse

from gateways import services as gateway_services
from gateways.models import Gateway, GatewayToken, GatewayTokenStatus
from tests.admin.form_data import text_of
from tests.factories import DeploymentFactory, GatewayFactory

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"ghg-[A-Za-z0-9_\-]{20,}")
ADD_URL = reverse("admin:gateways_gateway_add")
CHANGELIST_URL = reverse("admin:gateways_gateway_changelist")


def token_url(gateway):
    return reverse("admin:gateways_gateway_generate_token", args=[gateway.pk])


def gateway_data(**overrides):
    data = {
        "name": "Edge EU",
        "description": "",
        "base_url": "https://gw.example.com/",
        "environment": "production",
    }
    return {**data, **overrides}


def test_creating_a_gateway_generates_its_id(admin_client):
    admin_client.post(ADD_URL, gateway_data())

    gateway = Gateway.objects.get()
    assert (gateway.slug, gateway.base_url) == ("edge-eu", "https://gw.example.com")


def test_duplicate_gateway_name_is_a_form_error(admin_client):
    GatewayFactory(name="Edge EU")

    response = admin_client.post(ADD_URL, gateway_data(name="edge eu"))

    assert response.context["adminform"].form.errors["name"] == ["This name is taken."]


def test_changelist_shows_status_and_process_count(admin_client):
    gateway = GatewayFactory(name="Edge EU")
    gateway_services.gateway_process_heartbeat(gateway=gateway, instance_id="i-1")
    gateway_services.gateway_process_heartbeat(gateway=gateway, instance_id="i-2")

    row = admin_client.get(CHANGELIST_URL).context["cl"].result_list[0]

    assert (row.is_active, row.process_count) == (True, 2)


def test_gateway_without_processes_reads_not_active(admin_client):
    GatewayFactory()

    assert "Not Active" in text_of(admin_client.get(CHANGELIST_URL))


def test_generating_a_token_shows_it_once(admin_client):
    gateway = GatewayFactory()

    response = admin_client.post(token_url(gateway))

    secret = SECRET.search(response.content.decode()).group(0)
    assert GatewayToken.objects.get().token_hash != secret
    assert (
        secret
        not in admin_client.get(
            reverse("admin:gateways_gateway_change", args=[gateway.pk])
        ).content.decode()
    )


def test_token_page_asks_before_generating(admin_client):
    response = admin_client.get(token_url(GatewayFactory()))

    assert response.status_code == 200 and not GatewayToken.objects.exists()


def test_token_limit_is_shown_as_a_message(admin_client):
    gateway = GatewayFactory()
    for _ in range(GatewayToken.MAX_ACTIVE):
        gateway_services.gateway_token_create(gateway=gateway)

    response = admin_client.post(token_url(gateway), follow=True)

    assert "at most 2 active tokens" in text_of(response)


def test_token_list_shows_only_masked_tokens(admin_client):
    token, secret = gateway_services.gateway_token_create(gateway=GatewayFactory())

    page = admin_client.get(reverse("admin:gateways_gatewaytoken_changelist")).content.decode()

    assert token.masked in page and secret not in page


def test_revoke_action_revokes_tokens(admin_client):
    token, _ = gateway_services.gateway_token_create(gateway=GatewayFactory())
    url = reverse("admin:gateways_gatewaytoken_changelist")

    admin_client.post(url, {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.status == GatewayTokenStatus.REVOKED


def test_deleting_a_gateway_with_live_deployments_is_refused(admin_client):
    deployment = DeploymentFactory()
    url = reverse("admin:gateways_gateway_delete", args=[deployment.gateway.pk])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "still serves deployments" in text_of(response)
    assert Gateway.objects.filter(pk=deployment.gateway.pk).exists()


def test_deleting_an_idle_gateway_removes_it(admin_client):
    gateway = GatewayFactory()

    admin_client.post(reverse("admin:gateways_gateway_delete", args=[gateway.pk]), {"post": "yes"})

    assert not Gateway.objects.exists()
