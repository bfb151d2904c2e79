import pytest
from django.core.management.base import CommandError

from gateways.models import Gateway, GatewayToken
from proxies import crypto
from tests.factories import GatewayFactory


def test_prints_the_gateway_id(manage):
    out, _ = manage(
        "register_gateway",
        "--name",
        "EU West",
        "--base-url",
        "https://gw.example.com/",
        "--environment",
        "staging",
        "--description",
        "Frankfurt",
    )
    gateway = Gateway.objects.get()
    assert out == "eu-west\n" and (gateway.base_url, gateway.environment, gateway.description) == (
        "https://gw.example.com",
        "staging",
        "Frankfurt",
    )


def test_with_token_prints_the_token_on_a_second_line(manage):
    out, _ = manage(
        "register_gateway", "--name", "Edge", "--base-url", "https://edge.example.com", "--token"
    )
    slug, secret = out.splitlines()
    token = GatewayToken.objects.get(gateway__slug=slug)
    assert token.token_hash == crypto.hash_secret(secret)


def test_without_token_issues_none(manage):
    manage("register_gateway", "--name", "Edge", "--base-url", "https://edge.example.com")
    assert not GatewayToken.objects.exists()


def test_duplicate_name_is_an_error(manage):
    GatewayFactory(name="Edge")
    with pytest.raises(CommandError, match="A gateway named 'Edge' already exists"):
        manage("register_gateway", "--name", "Edge", "--base-url", "https://x.example.com")


def test_invalid_base_url_is_an_error(manage):
    with pytest.raises(CommandError, match="base_url: Enter a valid URL"):
        manage("register_gateway", "--name", "Edge", "--base-url", "not a url")


def test_missing_base_url_is_an_error(manage):
    with pytest.raises(CommandError, match="required: --base-url"):
        manage("register_gateway", "--name", "Edge")
