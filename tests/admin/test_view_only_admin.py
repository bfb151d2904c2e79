"""A staff user with only view permissions sees everything and can change nothing."""

import pytest
from django.urls import reverse

from deployments.models import DeploymentStatus
from gateways import services as gateway_services
from proxies.models import APIKey, APIKeyStatus, ManagementToken
from tests.admin.form_data import text_of
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory, api_key

pytestmark = pytest.mark.django_db


def test_viewer_sees_the_proxy_page_without_write_buttons(viewer_client):
    response = viewer_client.get(reverse("admin:proxies_proxy_change", args=[ProxyFactory().pk]))

    page = text_of(response)
    assert response.status_code == 200
    assert "Generate API key" not in page and "Deploy to Gateway" not in page


def test_viewer_sees_the_deploy_page_without_buttons(viewer_client):
    deployment = DeploymentFactory()

    response = viewer_client.get(reverse("admin:proxies_proxy_deploy", args=[deployment.proxy.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="action"' not in page


def test_viewer_cannot_open_the_generate_key_page(viewer_client):
    url = reverse("admin:proxies_proxy_generate_key", args=[ProxyFactory().pk])

    assert viewer_client.get(url).status_code == 403


def test_viewer_cannot_generate_a_key(viewer_client):
    url = reverse("admin:proxies_proxy_generate_key", args=[ProxyFactory().pk])

    response = viewer_client.post(url, {"name": "sneaky"})

    assert response.status_code == 403 and not APIKey.objects.exists()


@pytest.mark.parametrize("action", ["deploy", "stop", "restore"])
def test_viewer_cannot_deploy_stop_or_restore(viewer_client, action):
    deployment = DeploymentFactory()
    url = reverse("admin:proxies_proxy_deploy", args=[deployment.proxy.pk])
    data = {"action": action, "gateway": deployment.gateway.slug, "deployment": deployment.pk}

    assert viewer_client.post(url, data).status_code == 403


@pytest.mark.parametrize("view", ["stop", "restore"])
def test_viewer_cannot_use_the_deployment_buttons(viewer_client, view):
    deployment = DeploymentFactory()
    url = reverse(f"admin:deployments_deployment_{view}", args=[deployment.pk])

    response = viewer_client.post(url)

    deployment.refresh_from_db()
    assert response.status_code == 403 and deployment.status == DeploymentStatus.DEPLOYED


def test_viewer_has_no_stop_or_restore_actions(viewer_client):
    DeploymentFactory()

    response = viewer_client.get(reverse("admin:deployments_deployment_changelist"))

    assert response.context["action_form"] is None


def test_viewer_cannot_revoke_a_key(viewer_client):
    key, _ = api_key(ProxyFactory())

    response = viewer_client.post(reverse("admin:proxies_apikey_revoke", args=[key.pk]))

    key.refresh_from_db()
    assert response.status_code == 403 and key.status == APIKeyStatus.ACTIVE


def test_viewer_cannot_generate_a_gateway_token(viewer_client):
    url = reverse("admin:gateways_gateway_generate_token", args=[GatewayFactory().pk])

    assert viewer_client.post(url).status_code == 403


def test_viewer_sees_no_generate_token_button(viewer_client):
    gateway = GatewayFactory()
    gateway_services.gateway_token_create(gateway=gateway)

    page = text_of(viewer_client.get(reverse("admin:gateways_gateway_change", args=[gateway.pk])))

    assert "Generate token" not in page


def test_viewer_cannot_issue_a_management_token(viewer_client):
    response = viewer_client.post(reverse("admin:proxies_managementtoken_issue"), {"name": "x"})

    assert response.status_code == 403 and not ManagementToken.objects.exists()


def test_viewer_cannot_change_a_proxy(viewer_client):
    proxy = ProxyFactory()

    response = viewer_client.post(
        reverse("admin:proxies_proxy_change", args=[proxy.pk]), {"name": "Renamed"}
    )

    assert response.status_code == 403
