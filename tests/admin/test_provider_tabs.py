"""The provider page in tabs, and the gateway page's start command."""

import pytest
from django.urls import reverse

from tests.admin.form_data import text_of
from tests.factories import GatewayFactory, ProviderFactory

pytestmark = pytest.mark.django_db


def change_url(provider):
    return reverse("admin:proxies_provider_change", args=[provider.pk])


def test_provider_page_has_its_seven_tabs(admin_client):
    tabs = admin_client.get(change_url(ProviderFactory())).context["tabs"]

    assert [t["label"] for t in tabs] == [
        "Connection",
        "Access Control",
        "Security",
        "Rate Limiting",
        "Guardrails",
        "Routing",
        "Models",
    ]


def test_credential_shows_only_whether_it_is_set(admin_client):
    provider = ProviderFactory(credential="sk-very-secret")

    page = text_of(admin_client.get(change_url(provider)))

    assert "sk-very-secret" not in page and "set" in page


def test_access_control_lists_the_resources_the_template_offers(admin_client):
    page = text_of(admin_client.get(change_url(ProviderFactory())))

    assert "POST /chat/completions" in page


def test_rate_limiting_tab_lists_the_providers_limits(admin_client):
    page = text_of(admin_client.get(change_url(ProviderFactory())))

    assert "No rate limits on this provider." in page


def test_gateway_page_shows_the_exact_start_command(admin_client):
    gateway = GatewayFactory(name="edge eu")

    page = text_of(admin_client.get(reverse("admin:gateways_gateway_change", args=[gateway.pk])))

    assert f"python manage.py run_gateway {gateway.slug} --host 0.0.0.0 --port 8080" in page


def test_gateway_list_shows_status(admin_client):
    GatewayFactory()

    assert "Not Active" in text_of(admin_client.get(reverse("admin:gateways_gateway_changelist")))


def test_start_command_names_the_registration_token_once_the_gateway_has_one(admin_client):
    from gateways.services import gateway_token_create

    gateway = GatewayFactory(name="Tokened Edge")
    gateway_token_create(gateway=gateway)
    page = admin_client.get(reverse("admin:gateways_gateway_change", args=[gateway.pk])).content
    assert b"GATEHOUSE_GATEWAY_TOKEN=" in page
