"""A provider's credential is never sent to an upstream URL it was not given for: whoever may
edit a provider must not be able to move its URL to a server of theirs and receive it."""

import pytest

from proxies import crypto, services
from proxies.errors import CredentialRequired
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

NEW_URL = "http://127.0.0.1:9999/v1"


def test_changing_the_url_without_a_new_credential_is_refused():
    provider = ProviderFactory(credential="sk-held")
    with pytest.raises(CredentialRequired) as caught:
        services.provider_update(provider=provider, upstream_url=NEW_URL)
    assert caught.value.errors[0]["field"] == "credential"


def test_a_refused_change_keeps_the_url_and_the_credential():
    provider = ProviderFactory(credential="sk-held")
    with pytest.raises(CredentialRequired):
        services.provider_update(provider=provider, upstream_url=NEW_URL)
    provider.refresh_from_db()
    assert (provider.upstream_url, crypto.decrypt(provider.credential_ciphertext)) == (
        "http://127.0.0.1:9/v1",
        "sk-held",
    )


def test_a_new_credential_in_the_same_change_moves_the_url():
    provider = ProviderFactory(credential="sk-held")
    services.provider_update(provider=provider, upstream_url=NEW_URL, credential="sk-new")
    provider.refresh_from_db()
    assert (provider.upstream_url, crypto.decrypt(provider.credential_ciphertext)) == (
        NEW_URL,
        "sk-new",
    )


def test_an_empty_credential_in_the_same_change_removes_the_old_one():
    provider = ProviderFactory(credential="sk-held")
    services.provider_update(provider=provider, upstream_url=NEW_URL, credential="")
    provider.refresh_from_db()
    assert (provider.upstream_url, provider.has_credential) == (NEW_URL, False)


def test_a_provider_without_a_credential_moves_freely():
    provider = ProviderFactory(credential="")
    services.provider_update(provider=provider, upstream_url=NEW_URL)
    provider.refresh_from_db()
    assert provider.upstream_url == NEW_URL


def test_sending_the_same_url_needs_no_credential():
    provider = ProviderFactory(credential="sk-held")
    services.provider_update(provider=provider, upstream_url="http://127.0.0.1:9/v1/")
    provider.refresh_from_db()
    assert crypto.decrypt(provider.credential_ciphertext) == "sk-held"
