"""The Deploy to Gateway page as cards: details, history tags and the way back."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from deployments.models import Deployment
from tests.admin.form_data import text_of
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory

pytestmark = pytest.mark.django_db


def deploy_url(proxy):
    return reverse("admin:proxies_proxy_deploy", args=[proxy.pk])


def test_each_gateway_is_a_card(admin_client):
    GatewayFactory(name="edge-eu")
    GatewayFactory(name="edge-us")

    page = text_of(admin_client.get(deploy_url(ProxyFactory())))

    assert page.count('class="gh-gateway-card"') == 2


def test_card_details_show_status_id_and_age(admin_client):
    deployment = DeploymentFactory()

    page = text_of(admin_client.get(deploy_url(deployment.proxy)))

    assert str(deployment.pk) in page and "Active (Deployed)" in page and "just now" in page


def test_stop_asks_for_confirmation(admin_client):
    deployment = DeploymentFactory()

    page = text_of(admin_client.get(deploy_url(deployment.proxy)))

    assert f"Stop serving {deployment.proxy.name} on {deployment.gateway.name}?" in page


def test_history_tags_the_latest_deployed_entry(admin_client):
    deployment = DeploymentFactory()

    timeline = admin_client.get(deploy_url(deployment.proxy)).context["timeline"]

    assert timeline[0]["tags"] == ["Latest", "Deployed"]


def test_page_links_back_to_the_proxy(admin_client):
    proxy = ProxyFactory()

    page = text_of(admin_client.get(deploy_url(proxy)))

    assert (
        "Back to proxy" in page and reverse("admin:proxies_proxy_change", args=[proxy.pk]) in page
    )


def test_search_narrows_the_cards(admin_client):
    GatewayFactory(name="edge-eu")
    GatewayFactory(name="edge-us")

    cards = admin_client.get(deploy_url(ProxyFactory()) + "?q=eu").context["cards"]

    assert [c["gateway"].name for c in cards] == ["edge-eu"]


def test_older_deployments_say_how_long_ago(admin_client):
    deployment = DeploymentFactory()
    Deployment.objects.filter(pk=deployment.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )

    page = text_of(admin_client.get(deploy_url(deployment.proxy)))

    assert "3\xa0minutes ago" in page
