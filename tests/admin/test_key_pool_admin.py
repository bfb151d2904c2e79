"""A provider's key pool in the admin: one key per line, counted, never shown back."""

import pytest
from django.urls import reverse

from proxies import crypto
from proxies.key_pool import credential_value
from proxies.models import Provider
from tests.admin.form_data import provider_form, text_of
from tests.factories import ProviderFactory, template

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:proxies_provider_add")
KEYS = ["sk-pool-first-1111", "sk-pool-second-2222"]


def change_url(provider):
    return reverse("admin:proxies_provider_change", args=[provider.pk])


def stored(provider: Provider):
    return credential_value(crypto.decrypt(provider.credential_ciphertext))


def test_one_key_per_line_makes_a_pool(admin_client):
    data = provider_form(template("openai-compatible"), credential_pool="\n".join(KEYS))
    admin_client.post(ADD_URL, data)

    assert stored(Provider.objects.get(name="Acme LLM")) == KEYS


def test_the_change_page_says_how_many_keys_are_set_without_showing_them(admin_client):
    provider = ProviderFactory(credential=KEYS)

    page = text_of(admin_client.get(change_url(provider)))

    assert "a pool of 2 keys" in page
    assert not any(key in page for key in KEYS)


def test_a_pool_and_a_single_key_together_are_refused(admin_client):
    data = provider_form(
        template("openai-compatible"), credential="sk-single", credential_pool="\n".join(KEYS)
    )
    response = admin_client.post(ADD_URL, data)

    assert "Give one of an API key, a key pool or AWS keys" in text_of(response)
    assert not Provider.objects.exists()


def test_a_repeated_line_is_an_error_naming_its_line_not_its_key(admin_client):
    data = provider_form(template("openai-compatible"), credential_pool="sk-twice\nsk-twice")
    response = admin_client.post(ADD_URL, data)

    page = text_of(response)
    assert "Line 2: This key is already in the pool." in page
    assert "sk-twice" not in page


def test_the_typed_keys_are_not_echoed_when_the_form_has_errors(admin_client):
    data = provider_form(template("openai-compatible"), name="", credential_pool="\n".join(KEYS))
    response = admin_client.post(ADD_URL, data)

    assert not any(key in response.content.decode() for key in KEYS)


def test_a_new_pool_rotates_the_credential(admin_client):
    provider = ProviderFactory(name="Acme LLM", credential="sk-old-key")
    data = provider_form(provider.template, credential_pool="\n".join(KEYS))
    data.pop("template")  # read-only once created
    data.update(inbound_key_name=provider.inbound_key_name)

    admin_client.post(change_url(provider), data)

    provider.refresh_from_db()
    assert (provider.credential_key_count, stored(provider)) == (2, KEYS)
