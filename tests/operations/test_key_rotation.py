"""Rotating the credential encryption key as the production guide does it: with the new key
put first, its command encrypts every stored credential again, after which the old key can be
removed and every credential still reads."""

from cryptography.fernet import Fernet
from django.conf import settings as configured

from proxies import crypto
from tests.factories import ProviderFactory
from tests.operations import guide
from tests.operations.conftest import production_env


def test_after_the_guides_command_the_old_key_can_go(committed, database_url, settings):
    provider = ProviderFactory(name="Rotated", credential="sk-rotated-secret")
    old, new = configured.GATEHOUSE_ENCRYPTION_KEY, Fernet.generate_key().decode()
    result = guide.run(
        "reencrypt-credentials",
        production_env(database_url, GATEHOUSE_ENCRYPTION_KEY=f"{new},{old}"),
    )
    assert "re-encrypted with the first key" in result.stderr

    settings.GATEHOUSE_ENCRYPTION_KEY = new
    provider.refresh_from_db()
    assert crypto.decrypt(provider.credential_ciphertext) == "sk-rotated-secret"
