import json
from datetime import timedelta

from django.utils import timezone

from proxies import services
from tests.factories import ProxyFactory, api_key


def test_lists_masked_keys_never_the_secret(manage):
    proxy = ProxyFactory()
    key, secret = api_key(proxy, name="mobile app")
    out, _ = manage("list_api_keys", proxy.slug)
    assert key.masked in out and secret not in out


def test_revoked_key_reads_revoked(manage):
    proxy = ProxyFactory()
    key, _ = api_key(proxy)
    services.api_key_revoke(api_key=key)
    out, _ = manage("list_api_keys", proxy.slug, "--json")
    assert json.loads(out)[0]["status"] == "revoked"


def test_expired_key_reads_expired(manage):
    proxy = ProxyFactory()
    key, _ = api_key(proxy, expires_at=timezone.now() + timedelta(seconds=30))
    type(key).objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(days=1))
    out, _ = manage("list_api_keys", proxy.slug)
    assert "expired" in out.splitlines()[1]
