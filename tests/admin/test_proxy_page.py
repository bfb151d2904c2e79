"""The proxy page as a product: header, tabs, Get Started panel, key dialog and delete warning."""

import pytest
from django.urls import reverse

from proxies.models import APIKey, APIKeyStatus
from tests.admin.form_data import text_of
from tests.factories import (
    DeploymentFactory,
    GatewayFactory,
    GuardrailFactory,
    ProxyFactory,
    api_key,
)

pytestmark = pytest.mark.django_db


def change_url(proxy):
    return reverse("admin:proxies_proxy_change", args=[proxy.pk])


def test_header_shows_name_provider_and_version(admin_client):
    proxy = ProxyFactory(name="Support Bot")

    header = text_of(admin_client.get(change_url(proxy)))

    assert all(part in header for part in ("Support Bot", proxy.provider.name, "v1.0"))


def test_page_has_its_six_tabs(admin_client):
    tabs = admin_client.get(change_url(ProxyFactory())).context["tabs"]

    assert [t["label"] for t in tabs] == [
        "Provider",
        "Resources",
        "Security",
        "Guardrails",
        "Rate Limiting",
        "Routing",
    ]


def test_get_started_offers_every_gateway_with_its_invoke_url(admin_client):
    proxy = ProxyFactory(name="chat api")
    GatewayFactory(name="edge", base_url="https://edge.example.com")

    gateways = admin_client.get(change_url(proxy)).context["get_started"]["gateways"]

    assert [g["invoke_url"] for g in gateways] == ["https://edge.example.com/chat-api"]


def test_get_started_preselects_a_gateway_the_proxy_is_deployed_on(admin_client):
    GatewayFactory(name="aaa first")
    deployment = DeploymentFactory(gateway=GatewayFactory(name="zzz deployed"))

    selected = admin_client.get(change_url(deployment.proxy)).context["get_started"]["selected"]

    assert selected["gateway"].name == "zzz deployed"


def test_get_started_lists_deployed_gateways_with_status(admin_client):
    deployment = DeploymentFactory()

    page = text_of(admin_client.get(change_url(deployment.proxy)))

    assert deployment.name in page and "Not Active" in page


def test_changes_not_deployed_notice_appears_when_out_of_date(admin_client):
    deployment = DeploymentFactory()
    GuardrailFactory(proxy=deployment.proxy)

    page = text_of(admin_client.get(change_url(deployment.proxy)))

    assert "Changes not deployed" in page


def test_no_changes_notice_when_the_deployment_is_current(admin_client):
    deployment = DeploymentFactory()

    assert "Changes not deployed" not in text_of(admin_client.get(change_url(deployment.proxy)))


def test_keys_list_shows_masked_key_and_expiry(admin_client):
    proxy = ProxyFactory()
    key, _ = api_key(proxy, name="ci key")

    page = text_of(admin_client.get(change_url(proxy)))

    assert key.masked in page and "Never expires" in page


def test_keys_list_never_shows_a_secret(admin_client):
    proxy = ProxyFactory()
    _, secret = api_key(proxy)

    assert secret not in text_of(admin_client.get(change_url(proxy)))


def test_generate_key_dialog_receives_the_key_once_as_json(admin_client):
    proxy = ProxyFactory()
    url = reverse("admin:proxies_proxy_generate_key", args=[proxy.pk])

    response = admin_client.post(url, {"name": "ci key"}, HTTP_ACCEPT="application/json")

    assert response.json()["key"].startswith("gh-")


def test_generate_key_dialog_stores_only_the_masked_form(admin_client):
    proxy = ProxyFactory()
    url = reverse("admin:proxies_proxy_generate_key", args=[proxy.pk])

    data = admin_client.post(url, {"name": "ci key"}, HTTP_ACCEPT="application/json").json()

    assert APIKey.objects.get(proxy=proxy).masked == data["masked"] != data["key"]


def test_generate_key_dialog_reports_errors_as_json(admin_client):
    proxy = ProxyFactory()
    api_key(proxy, name="taken")
    url = reverse("admin:proxies_proxy_generate_key", args=[proxy.pk])

    response = admin_client.post(url, {"name": "taken"}, HTTP_ACCEPT="application/json")

    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_revoking_from_the_panel_returns_to_the_proxy(admin_client):
    proxy = ProxyFactory()
    key, _ = api_key(proxy)
    url = reverse("admin:proxies_apikey_revoke", args=[key.pk])

    response = admin_client.post(url, {"next": change_url(proxy)})

    key.refresh_from_db()
    assert (response.url, key.status) == (change_url(proxy), APIKeyStatus.REVOKED)


def test_revoke_ignores_a_next_url_on_another_host(admin_client):
    key, _ = api_key(ProxyFactory())
    url = reverse("admin:proxies_apikey_revoke", args=[key.pk])

    response = admin_client.post(url, {"next": "https://evil.example.com/"})

    assert response.url == reverse("admin:proxies_apikey_change", args=[key.pk])


def test_delete_page_warns_that_live_gateways_stop_serving(admin_client):
    deployment = DeploymentFactory()
    url = reverse("admin:proxies_proxy_delete", args=[deployment.proxy.pk])

    page = text_of(admin_client.get(url))

    assert f"It is live on {deployment.gateway.name}" in page and "404" in page


def test_proxy_list_shows_where_each_proxy_is_deployed(admin_client):
    DeploymentFactory(gateway=GatewayFactory(name="edge-eu"))

    page = text_of(admin_client.get(reverse("admin:proxies_proxy_changelist")))

    assert "edge-eu" in page


def test_add_page_has_the_proxy_id_preview(admin_client):
    page = text_of(admin_client.get(reverse("admin:proxies_proxy_add")))

    assert 'data-slug-preview-for="id_name"' in page


def test_viewer_sees_no_generate_key_or_deploy_button(viewer_client):
    page = text_of(viewer_client.get(change_url(ProxyFactory())))

    assert "Generate API key" not in page and "Deploy to Gateway" not in page


def test_viewer_cannot_generate_a_key_through_the_dialog(viewer_client):
    proxy = ProxyFactory()
    url = reverse("admin:proxies_proxy_generate_key", args=[proxy.pk])

    response = viewer_client.post(url, {"name": "x" * 5}, HTTP_ACCEPT="application/json")

    assert response.status_code == 403 and not APIKey.objects.exists()


def test_generating_a_key_appears_in_the_proxy_history(admin_client):
    proxy = ProxyFactory()
    url = reverse("admin:proxies_proxy_generate_key", args=[proxy.pk])
    data = admin_client.post(url, {"name": "ci key"}, HTTP_ACCEPT="application/json").json()

    history = reverse("admin:proxies_proxy_history", args=[proxy.pk])
    assert f"Generated API key {data['masked']}." in text_of(admin_client.get(history))
