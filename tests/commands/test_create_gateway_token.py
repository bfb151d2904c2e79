import pytest
from django.core.management.base import CommandError

from gateways.models import GatewayToken
from proxies import crypto
from tests.factories import GatewayFactory


def test_prints_a_token_stored_only_as_a_hash(manage):
    gateway = GatewayFactory()
    out, _ = manage("create_gateway_token", gateway.slug)
    assert GatewayToken.objects.get(gateway=gateway).token_hash == crypto.hash_secret(out.strip())


def test_a_third_active_token_is_refused(manage):
    gateway = GatewayFactory()
    manage("create_gateway_token", gateway.slug)
    manage("create_gateway_token", gateway.slug)
    with pytest.raises(CommandError, match="at most 2 active tokens"):
        manage("create_gateway_token", gateway.slug)


def test_unknown_gateway_is_an_error(manage):
    with pytest.raises(CommandError, match="No gateway 'ghost'"):
        manage("create_gateway_token", "ghost")
