"""Rotating the credential encryption key: with a new key put first, reencrypt_credentials
encrypts every stored credential with it, so the old key can be removed."""

import pytest
from cryptography.fernet import Fernet
from django.core.management.base import CommandError

from proxies import crypto
from proxies.models import Provider
from tests.factories import ProviderFactory

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored(provider) -> str:
    provider.refresh_from_db()
    return crypto.decrypt(provider.credential_ciphertext)


def test_after_it_the_old_key_can_go(manage, settings):
    settings.GATEHOUSE_ENCRYPTION_KEY = OLD
    first = ProviderFactory(name="First", credential="sk-first")
    pool = ProviderFactory(name="Pool", credential=["sk-a", "sk-b"])
    ProviderFactory(name="Keyless", credential="")
    before = {p.pk: (stored(p), p.credential_updated_at) for p in (first, pool)}

    settings.GATEHOUSE_ENCRYPTION_KEY = f"{NEW},{OLD}"
    _, note = manage("reencrypt_credentials")
    assert "2 credentials re-encrypted" in note

    settings.GATEHOUSE_ENCRYPTION_KEY = NEW
    after = {p.pk: (stored(p), p.credential_updated_at) for p in (first, pool)}
    assert after == before  # same plaintexts, not counted as a change of credential


def test_a_credential_no_key_reads_is_named_and_left_alone(manage, settings):
    settings.GATEHOUSE_ENCRYPTION_KEY = OLD
    lost = ProviderFactory(name="Lost", credential="sk-lost")
    ciphertext = Provider.objects.get(pk=lost.pk).credential_ciphertext

    settings.GATEHOUSE_ENCRYPTION_KEY = NEW
    with pytest.raises(CommandError, match="credential of: lost"):
        manage("reencrypt_credentials")
    assert Provider.objects.get(pk=lost.pk).credential_ciphertext == ciphertext
