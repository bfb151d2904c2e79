"""Deploying, stopping and restoring proxies from the admin."""

import pytest
from django.urls import reverse

from deployments.models import Deployment, DeploymentStatus
from gateways import services as gateway_services
from tests.admin.form_data import text_of
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory

pytestmark = pytest.mark.django_db

CHANGELIST_URL = reverse("admin:deployments_deployment_changelist")


def deploy_url(proxy):
    return reverse("admin:proxies_proxy_deploy", args=[proxy.pk])


def test_deploy_page_lists_gateways_with_their_status(admin_client):
    active, idle = GatewayFactory(name="Edge Active"), GatewayFactory(name="Edge Idle")
    gateway_services.gateway_process_heartbeat(gateway=active, instance_id="i-1")

    cards = admin_client.get(deploy_url(ProxyFactory())).context["cards"]

    assert {c["gateway"].name: c["gateway"].is_active for c in cards} == {
        active.name: True,
        idle.name: False,
    }


def test_deploy_page_shows_active_and_not_active(admin_client):
    GatewayFactory()

    assert "Not Active" in text_of(admin_client.get(deploy_url(ProxyFactory())))


def test_deploy_button_deploys_the_proxy(admin_client, admin_user):
    proxy, gateway = ProxyFactory(), GatewayFactory()

    admin_client.post(deploy_url(proxy), {"action": "deploy", "gateway": gateway.slug})

    deployment = Deployment.objects.get(proxy=proxy, gateway=gateway)
    assert (deployment.status, deployment.created_by) == (DeploymentStatus.DEPLOYED, admin_user)


def test_deploy_page_shows_the_current_deployment(admin_client):
    deployment = DeploymentFactory()

    page = text_of(admin_client.get(deploy_url(deployment.proxy)))

    assert deployment.name in page and "Stop" in page


def test_redeploying_archives_the_previous_deployment(admin_client):
    first = DeploymentFactory()

    admin_client.post(deploy_url(first.proxy), {"action": "deploy", "gateway": first.gateway.slug})

    first.refresh_from_db()
    assert first.status == DeploymentStatus.ARCHIVED


def test_stop_button_stops_the_deployment(admin_client):
    deployment = DeploymentFactory()

    data = {"action": "stop", "deployment": str(deployment.pk)}
    admin_client.post(deploy_url(deployment.proxy), data)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.UNDEPLOYED


def test_stopping_a_stopped_deployment_shows_an_error(admin_client):
    deployment = DeploymentFactory()
    data = {"action": "stop", "deployment": str(deployment.pk)}
    admin_client.post(deploy_url(deployment.proxy), data)

    response = admin_client.post(deploy_url(deployment.proxy), data, follow=True)

    assert "is not active" in text_of(response)


def test_deploying_to_an_unknown_gateway_shows_an_error(admin_client):
    proxy = ProxyFactory()

    response = admin_client.post(
        deploy_url(proxy), {"action": "deploy", "gateway": "nowhere"}, follow=True
    )

    assert "No gateway 'nowhere'." in text_of(response)


def test_restore_action_serves_an_earlier_snapshot_again(admin_client, admin_user):
    stopped = DeploymentFactory()
    admin_client.post(deploy_url(stopped.proxy), {"action": "stop", "deployment": str(stopped.pk)})

    admin_client.post(CHANGELIST_URL, {"action": "restore", "_selected_action": [stopped.pk]})

    restored = Deployment.objects.get(restored_from=stopped)
    assert (restored.status, restored.created_by) == (DeploymentStatus.DEPLOYED, admin_user)


def test_stop_action_stops_the_selected_deployments(admin_client):
    deployment = DeploymentFactory()

    admin_client.post(CHANGELIST_URL, {"action": "stop", "_selected_action": [deployment.pk]})

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.UNDEPLOYED


def test_restore_button_on_the_deployment_page_restores_it(admin_client):
    stopped = DeploymentFactory()
    admin_client.post(reverse("admin:deployments_deployment_stop", args=[stopped.pk]))

    admin_client.post(reverse("admin:deployments_deployment_restore", args=[stopped.pk]))

    assert Deployment.objects.filter(restored_from=stopped, status="DEPLOYED").exists()


def test_deployment_page_shows_the_snapshot_as_json(admin_client):
    deployment = DeploymentFactory()

    page = text_of(
        admin_client.get(reverse("admin:deployments_deployment_change", args=[deployment.pk]))
    )

    assert f'"id": "{deployment.proxy.slug}"' in page


def test_deployment_list_marks_out_of_date_deployments(admin_client):
    deployment = DeploymentFactory()
    proxy = deployment.proxy
    proxy.version = "v2.0"
    proxy.save()

    assert "out of date" in text_of(admin_client.get(CHANGELIST_URL))


def test_deleting_a_live_deployment_record_is_refused(admin_client):
    deployment = DeploymentFactory()
    url = reverse("admin:deployments_deployment_delete", args=[deployment.pk])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "is live; stop it first" in text_of(response)
    assert Deployment.objects.filter(pk=deployment.pk).exists()
