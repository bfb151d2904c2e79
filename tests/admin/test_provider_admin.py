"""Registering, changing and deleting providers in the admin."""

import pytest
from django.urls import reverse

from proxies.models import Provider
from tests.admin.form_data import provider_form, text_of
from tests.factories import ProviderFactory, ProxyFactory, template

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:proxies_provider_add")
CHANGELIST_URL = reverse("admin:proxies_provider_changelist")


def change_url(provider):
    return reverse("admin:proxies_provider_change", args=[provider.pk])


def test_creating_a_provider_encrypts_the_credential(admin_client):
    data = provider_form(template("openai-compatible"), credential="sk-very-secret-123")
    admin_client.post(ADD_URL, data)

    provider = Provider.objects.get(name="Acme LLM")
    assert provider.credential_ciphertext and "sk-very-secret-123" not in (
        provider.credential_ciphertext
    )


def test_created_provider_gets_an_id_from_its_name(admin_client):
    admin_client.post(ADD_URL, provider_form(template("openai-compatible")))

    assert Provider.objects.get(name="Acme LLM").slug == "acme-llm"


def test_inbound_key_defaults_to_the_templates_header(admin_client):
    admin_client.post(ADD_URL, provider_form(template("anthropic"), upstream_url=""))

    provider = Provider.objects.get(name="Acme LLM")
    assert (provider.inbound_key_name, provider.inbound_key_prefix) == ("x-api-key", "")


def test_fixed_upstream_url_comes_from_the_template(admin_client):
    admin_client.post(ADD_URL, provider_form(template("openai"), upstream_url=""))

    assert Provider.objects.get(name="Acme LLM").upstream_url == "https://api.openai.com/v1"


def test_another_url_for_a_fixed_template_is_a_form_error(admin_client, fixed_template):
    data = provider_form(fixed_template, upstream_url="https://elsewhere.example.com")
    response = admin_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "This template's upstream URL is fixed." in text_of(response)
    assert not Provider.objects.exists()


def test_credential_never_appears_on_the_change_page(admin_client):
    provider = ProviderFactory(credential="sk-never-shown-42")

    response = admin_client.get(change_url(provider))

    assert response.status_code == 200
    assert "sk-never-shown-42" not in response.content.decode()


def test_change_page_says_whether_a_credential_is_set(admin_client):
    provider = ProviderFactory(credential="sk-never-shown-42")

    assert "set (last changed" in text_of(admin_client.get(change_url(provider)))


def test_credential_is_not_echoed_when_the_form_has_errors(admin_client):
    data = provider_form(template("openai-compatible"), name="", credential="sk-echo-me-not")
    response = admin_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "sk-echo-me-not" not in response.content.decode()


def _change_data(provider, **overrides):
    data = provider_form(provider.template, name=provider.name, upstream_url=provider.upstream_url)
    data.pop("template")
    data["inbound_key_name"] = provider.inbound_key_name
    data["inbound_key_prefix"] = provider.inbound_key_prefix
    return {**data, **overrides}


def test_blank_credential_on_change_keeps_the_current_one(admin_client):
    provider = ProviderFactory(credential="sk-keep-me")
    before = provider.credential_ciphertext

    admin_client.post(change_url(provider), _change_data(provider, description="changed"))

    provider.refresh_from_db()
    assert (provider.description, provider.credential_ciphertext) == ("changed", before)


def test_new_credential_on_change_rotates_it(admin_client):
    provider = ProviderFactory(credential="sk-old")
    before = provider.credential_ciphertext

    admin_client.post(change_url(provider), _change_data(provider, credential="sk-new"))

    provider.refresh_from_db()
    assert provider.credential_ciphertext != before


def test_duplicate_provider_name_is_a_form_error(admin_client):
    ProviderFactory(name="Acme LLM")

    response = admin_client.post(ADD_URL, provider_form(template("openai-compatible")))

    assert "This name is taken." in text_of(response)


def test_changelist_shows_the_latest_updated_provider_first(admin_client):
    ProviderFactory(name="Older One")
    ProviderFactory(name="Newer One")

    page = text_of(admin_client.get(CHANGELIST_URL))

    assert page.index("Newer One") < page.index("Older One")


def test_deleting_a_provider_in_use_shows_why_and_keeps_it(admin_client):
    proxy = ProxyFactory()
    url = reverse("admin:proxies_provider_delete", args=[proxy.provider.pk])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "is used by proxies" in text_of(response)
    assert Provider.objects.filter(pk=proxy.provider.pk).exists()


def test_delete_page_of_a_provider_in_use_names_the_proxies(admin_client):
    proxy = ProxyFactory(name="Blocking Proxy")
    url = reverse("admin:proxies_provider_delete", args=[proxy.provider.pk])

    assert "Blocking Proxy" in text_of(admin_client.get(url))


def test_deleting_an_unused_provider_removes_it(admin_client):
    provider = ProviderFactory()
    url = reverse("admin:proxies_provider_delete", args=[provider.pk])

    admin_client.post(url, {"post": "yes"})

    assert not Provider.objects.filter(pk=provider.pk).exists()


def test_bulk_delete_with_a_provider_in_use_deletes_none(admin_client):
    unused, used = ProviderFactory(), ProxyFactory().provider
    data = {
        "action": "delete_selected",
        "_selected_action": [unused.pk, used.pk],
        "post": "yes",
    }

    response = admin_client.post(CHANGELIST_URL, data, follow=True)

    assert "is used by proxies" in text_of(response)
    assert Provider.objects.count() == 2
