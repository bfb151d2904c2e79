from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ValidationFailed
from deployments.selectors import gateway_runtime_config
from proxies import crypto, services
from proxies.errors import APIKeyExists, APIKeyRevoked
from proxies.models import APIKey
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory, api_key

pytestmark = pytest.mark.django_db


def test_key_is_stored_only_as_hash_and_mask():
    key, secret = api_key(ProxyFactory())
    stored = APIKey.objects.filter(pk=key.pk).values().get()
    assert secret.startswith("gh-") and len(secret) > 40
    assert secret not in str(stored)
    assert stored["key_hash"] == crypto.hash_secret(secret)
    assert stored["masked"] == "gh-…" + secret[-5:]


def test_key_name_needs_three_characters():
    with pytest.raises(ValidationFailed):
        api_key(ProxyFactory(), name="ab")


def test_active_key_names_are_unique_per_proxy_but_revoked_names_free_up():
    proxy = ProxyFactory()
    key, _ = api_key(proxy, name="mobile")
    with pytest.raises(APIKeyExists):
        api_key(proxy, name="mobile")
    services.api_key_revoke(api_key=key)
    assert api_key(proxy, name="mobile")[0].status == "active"


def test_expiry_in_the_past_is_refused():
    with pytest.raises(ValidationFailed):
        api_key(ProxyFactory(), expires_at=timezone.now() - timedelta(minutes=1))


def test_revoking_twice_is_a_conflict():
    key, _ = api_key(ProxyFactory())
    services.api_key_revoke(api_key=key)
    with pytest.raises(APIKeyRevoked):
        services.api_key_revoke(api_key=key)


def test_gateway_config_holds_usable_keys_for_that_gateway_only():
    deployment = DeploymentFactory()
    gateway, proxy = deployment.gateway, deployment.proxy
    other = GatewayFactory()
    everywhere, _ = api_key(proxy, name="everywhere")
    api_key(proxy, name="elsewhere", gateways=[other])
    revoked, _ = api_key(proxy, name="revoked")
    services.api_key_revoke(api_key=revoked)
    hashes = {k["hash"] for k in gateway_runtime_config(gateway)["keys"]}
    assert hashes == {everywhere.key_hash}


def test_redeploying_keeps_keys_valid():
    deployment = DeploymentFactory()
    key, _ = api_key(deployment.proxy)
    from deployments.services import deploy

    deploy(proxy=deployment.proxy, gateway=deployment.gateway)
    assert {k["hash"] for k in gateway_runtime_config(deployment.gateway)["keys"]} == {key.key_hash}
