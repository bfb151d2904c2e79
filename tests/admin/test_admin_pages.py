"""Every model's admin pages render for a superuser."""

import pytest
from django.urls import reverse

from deployments.models import Deployment
from gateways import services as gateway_services
from gateways.models import Gateway, GatewayProcess, GatewayToken, UsageRecord
from guardrails.models import GuardrailAttachment
from proxies import services as proxy_services
from proxies.models import APIKey, ManagementToken, Provider, ProviderTemplate, Proxy
from tests.factories import DeploymentFactory, GuardrailFactory, api_key

pytestmark = pytest.mark.django_db

MODELS = [
    ProviderTemplate,
    Gateway,
    Provider,
    Proxy,
    APIKey,
    ManagementToken,
    GuardrailAttachment,
    Deployment,
    GatewayToken,
    GatewayProcess,
    UsageRecord,
]
ADDABLE = [ProviderTemplate, Provider, Proxy, GuardrailAttachment, Gateway]


@pytest.fixture
def one_of_each(admin_user):
    deployment = DeploymentFactory()
    GuardrailFactory(proxy=deployment.proxy)
    api_key(deployment.proxy)
    gateway_services.gateway_token_create(gateway=deployment.gateway)
    gateway_services.gateway_process_heartbeat(gateway=deployment.gateway, instance_id="i-1")
    proxy_services.management_token_create(user=admin_user, expires_at=None)
    UsageRecord.objects.create(
        gateway="g", proxy="p", method="POST", status_code=200, outcome="ok", latency_ms=1.0
    )
    return deployment


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders(admin_client, one_of_each, model):
    assert admin_client.get(_url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_change_page_renders(admin_client, one_of_each, model):
    obj = model.objects.first()
    assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", ADDABLE)
def test_add_page_renders(admin_client, one_of_each, model):
    assert admin_client.get(_url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_change_page_renders_read_only_for_a_viewer(viewer_client, one_of_each, model):
    response = viewer_client.get(_url(model, "change", model.objects.first().pk))

    assert (response.status_code, response.context["has_change_permission"]) == (200, False)


def test_home_page_summarises_the_platform(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert "Create proxy" in response.content.decode()


def test_home_page_leaves_out_traffic_for_staff_without_usage_permission(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client.force_login(user)

    assert "Requests, last 24 hours" not in client.get(reverse("admin:index")).content.decode()
