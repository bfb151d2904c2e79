import uuid

import pytest
from django.core.management.base import CommandError

from proxies.models import APIKeyStatus
from tests.factories import ProxyFactory, api_key


def test_revokes_the_key(manage):
    proxy = ProxyFactory()
    key, _ = api_key(proxy)
    manage("revoke_api_key", proxy.slug, str(key.pk))
    key.refresh_from_db()
    assert key.status == APIKeyStatus.REVOKED and key.revoked_at is not None


def test_revoking_twice_is_an_error(manage):
    proxy = ProxyFactory()
    key, _ = api_key(proxy)
    manage("revoke_api_key", proxy.slug, str(key.pk))
    with pytest.raises(CommandError, match="already revoked"):
        manage("revoke_api_key", proxy.slug, str(key.pk))


def test_key_of_another_proxy_is_not_found(manage):
    key, _ = api_key(ProxyFactory())
    other = ProxyFactory()
    with pytest.raises(CommandError, match=f"No API key '{key.pk}' on proxy '{other.slug}'"):
        manage("revoke_api_key", other.slug, str(key.pk))


def test_unknown_key_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="No API key"):
        manage("revoke_api_key", proxy.slug, str(uuid.uuid4()))
