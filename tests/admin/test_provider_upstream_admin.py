"""Moving a provider to another upstream URL in the admin: the credential field becomes
required, and refused addresses are form errors on the URL."""

import pytest
from django.urls import reverse

from proxies import crypto
from proxies.models import Provider
from tests.admin.form_data import provider_form, text_of
from tests.factories import ProviderFactory, template

pytestmark = pytest.mark.django_db

NEW_URL = "http://127.0.0.1:9999/v1"
CREDENTIAL_MESSAGE = "Changing the upstream URL needs a new credential in the same change"


def change_url(provider: Provider) -> str:
    return reverse("admin:proxies_provider_change", args=[provider.pk])


def change_form(provider: Provider, **overrides) -> dict:
    """The change form as a browser posts it, with the provider's current values."""
    data = provider_form(
        provider.template,
        name=provider.name,
        upstream_url=provider.upstream_url,
        inbound_key_name=provider.inbound_key_name,
        inbound_key_prefix=provider.inbound_key_prefix,
    )
    data.pop("template")
    return {**data, **overrides}


def test_a_new_url_without_a_credential_asks_for_one(admin_client):
    provider = ProviderFactory(credential="sk-held")

    response = admin_client.post(change_url(provider), change_form(provider, upstream_url=NEW_URL))

    assert CREDENTIAL_MESSAGE in text_of(response)


def test_a_new_url_without_a_credential_is_not_saved(admin_client):
    provider = ProviderFactory(credential="sk-held")

    admin_client.post(change_url(provider), change_form(provider, upstream_url=NEW_URL))

    provider.refresh_from_db()
    assert provider.upstream_url == "http://127.0.0.1:9/v1"


def test_a_new_url_with_a_new_credential_is_saved(admin_client):
    provider = ProviderFactory(credential="sk-held")

    data = change_form(provider, upstream_url=NEW_URL, credential="sk-new")
    admin_client.post(change_url(provider), data)

    provider.refresh_from_db()
    assert (provider.upstream_url, crypto.decrypt(provider.credential_ciphertext)) == (
        NEW_URL,
        "sk-new",
    )


def test_the_credential_help_says_a_new_url_needs_one(admin_client):
    provider = ProviderFactory(credential="sk-held")

    assert "Required when the upstream URL changes" in text_of(
        admin_client.get(change_url(provider))
    )


def test_a_metadata_address_is_a_form_error_on_the_url(admin_client):
    data = provider_form(template("openai-compatible"), upstream_url="http://169.254.169.254/")

    response = admin_client.post(reverse("admin:proxies_provider_add"), data)

    assert "169.254.169.254 is a loopback, link-local or private address" in text_of(response)
    assert not Provider.objects.exists()
