"""Creating and changing proxies in the admin."""

import pytest
from django.urls import reverse

from deployments.models import Deployment
from proxies.models import Proxy
from tests.admin.form_data import proxy_form, text_of
from tests.factories import DeploymentFactory, GatewayFactory, ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:proxies_proxy_add")


def change_url(proxy):
    return reverse("admin:proxies_proxy_change", args=[proxy.pk])


def test_add_form_preselects_the_latest_updated_provider(admin_client):
    ProviderFactory(name="Older")
    newest = ProviderFactory(name="Newest")

    form = admin_client.get(ADD_URL).context["adminform"].form

    assert form["provider"].value() == newest.pk


def test_add_form_prefills_version_and_context(admin_client):
    ProviderFactory()

    form = admin_client.get(ADD_URL).context["adminform"].form

    assert (form["version"].value(), form["context"].value()) == ("v1.0", "/")


def test_creating_a_proxy_generates_its_id(admin_client):
    provider = ProviderFactory()

    admin_client.post(ADD_URL, proxy_form(provider))

    assert Proxy.objects.get(name="Support Bot").slug == "support-bot"


def test_after_creation_the_proxy_page_shows_its_id(admin_client):
    provider = ProviderFactory()

    response = admin_client.post(ADD_URL, proxy_form(provider), follow=True)

    assert response.context["original"].slug == "support-bot"
    assert "support-bot" in text_of(response)


def test_context_is_normalised(admin_client):
    admin_client.post(ADD_URL, proxy_form(ProviderFactory(), context="chat/v1/"))

    assert Proxy.objects.get(name="Support Bot").context == "/chat/v1"


def test_duplicate_proxy_name_is_a_form_error(admin_client):
    existing = ProxyFactory(name="Support Bot")

    response = admin_client.post(ADD_URL, proxy_form(existing.provider))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == ["This name is taken."]
    assert Proxy.objects.count() == 1


def test_bad_version_is_a_form_error(admin_client):
    response = admin_client.post(ADD_URL, proxy_form(ProviderFactory(), version="1.0"))

    assert "version" in response.context["adminform"].form.errors


def test_resources_are_entered_one_per_line(admin_client):
    data = proxy_form(ProviderFactory(), resources="post /chat/completions\nGET /models")
    admin_client.post(ADD_URL, data)

    assert Proxy.objects.get(name="Support Bot").resources == [
        {"method": "POST", "path": "/chat/completions"},
        {"method": "GET", "path": "/models"},
    ]


def test_changing_a_proxy_keeps_its_id(admin_client):
    proxy = ProxyFactory(name="Support Bot")

    data = proxy_form(proxy.provider, name="Help Desk", description="renamed")
    admin_client.post(change_url(proxy), data)

    proxy.refresh_from_db()
    assert (proxy.name, proxy.slug) == ("Help Desk", "support-bot")


def test_renaming_to_a_taken_name_is_a_form_error(admin_client):
    ProxyFactory(name="Taken")
    proxy = ProxyFactory(name="Mine")

    response = admin_client.post(change_url(proxy), proxy_form(proxy.provider, name="taken"))

    assert response.context["adminform"].form.errors["name"] == ["This name is taken."]


def test_proxy_page_offers_generate_key_and_deploy(admin_client):
    page = text_of(admin_client.get(change_url(ProxyFactory())))

    assert "Generate API key" in page and "Deploy to Gateway" in page


def test_proxy_page_shows_the_invoke_url_once_deployed(admin_client):
    deployment = DeploymentFactory(gateway=GatewayFactory(base_url="https://gw.example.com"))

    page = text_of(admin_client.get(change_url(deployment.proxy)))

    assert f"https://gw.example.com/{deployment.proxy.slug}" in page


def test_proxy_page_marks_out_of_date_deployments(admin_client):
    deployment = DeploymentFactory()
    proxy = deployment.proxy
    admin_client.post(
        change_url(proxy), proxy_form(proxy.provider, name=proxy.name, version="v2.0")
    )

    assert "out of date" in text_of(admin_client.get(change_url(proxy)))


def test_deleting_a_proxy_also_removes_its_deployments(admin_client):
    deployment = DeploymentFactory()
    url = reverse("admin:proxies_proxy_delete", args=[deployment.proxy.pk])

    admin_client.post(url, {"post": "yes"})

    assert not Deployment.objects.exists()
