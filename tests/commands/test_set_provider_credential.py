import pytest
from django.core.management.base import CommandError

from proxies import crypto
from proxies.models import Provider
from tests.factories import ProviderFactory


def test_rotates_the_credential_from_an_environment_variable(manage, monkeypatch):
    provider = ProviderFactory(credential="sk-old")
    monkeypatch.setenv("NEW_KEY", "sk-new")
    manage("set_provider_credential", provider.slug, "--credential-env", "NEW_KEY")
    stored = Provider.objects.get(pk=provider.pk).credential_ciphertext
    assert crypto.decrypt(stored) == "sk-new"


def test_prints_nothing_on_stdout(manage):
    provider = ProviderFactory()
    out, err = manage("set_provider_credential", provider.slug, "--credential", "sk-x")
    assert out == "" and provider.slug in err


def test_a_credential_option_is_required(manage):
    provider = ProviderFactory()
    with pytest.raises(CommandError, match="one of the arguments"):
        manage("set_provider_credential", provider.slug)


def test_empty_credential_is_refused(manage):
    provider = ProviderFactory()
    with pytest.raises(CommandError, match="must not be empty"):
        manage("set_provider_credential", provider.slug, "--credential", " ")


def test_unknown_provider_is_an_error(manage):
    with pytest.raises(CommandError, match="No provider 'ghost'"):
        manage("set_provider_credential", "ghost", "--credential", "sk")
