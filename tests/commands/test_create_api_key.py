import json
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from proxies import crypto
from proxies.models import APIKey
from tests.factories import GatewayFactory, ProxyFactory, api_key


def test_printed_key_is_stored_only_as_its_hash(manage):
    proxy = ProxyFactory()
    out, _ = manage("create_api_key", proxy.slug, "--name", "mobile app")
    printed = out.strip()
    key = APIKey.objects.get(proxy=proxy)
    assert key.key_hash == crypto.hash_secret(printed) and printed not in key.masked


def test_stdout_holds_only_the_key(manage):
    proxy = ProxyFactory()
    out, err = manage("create_api_key", proxy.slug, "--name", "mobile app")
    assert out.startswith(APIKey.PREFIX) and out.count("\n") == 1 and "shown once" in err


def test_default_expiry_is_ninety_days(manage):
    proxy = ProxyFactory()
    manage("create_api_key", proxy.slug, "--name", "mobile app")
    remaining = APIKey.objects.get().expires_at - timezone.now()
    assert timedelta(days=89, hours=23) < remaining <= timedelta(days=90)


def test_expires_in_days_sets_the_expiry(manage):
    proxy = ProxyFactory()
    manage("create_api_key", proxy.slug, "--name", "batch", "--expires-in-days", "7")
    remaining = APIKey.objects.get().expires_at - timezone.now()
    assert timedelta(days=6, hours=23) < remaining <= timedelta(days=7)


def test_no_expiry_leaves_the_key_open_ended(manage):
    proxy = ProxyFactory()
    manage("create_api_key", proxy.slug, "--name", "batch", "--no-expiry")
    assert APIKey.objects.get().expires_at is None


def test_expires_at_accepts_an_iso_date_time(manage):
    proxy = ProxyFactory()
    manage("create_api_key", proxy.slug, "--name", "batch", "--expires-at", "2999-01-02T03:04:05Z")
    assert APIKey.objects.get().expires_at.isoformat() == "2999-01-02T03:04:05+00:00"


def test_expiry_in_the_past_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="The expiry must be in the future"):
        manage("create_api_key", proxy.slug, "--name", "batch", "--expires-in-days", "-1")


def test_expired_date_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="The expiry must be in the future"):
        manage("create_api_key", proxy.slug, "--name", "batch", "--expires-at", "2001-01-01")


def test_malformed_date_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="not an ISO 8601 date"):
        manage("create_api_key", proxy.slug, "--name", "batch", "--expires-at", "next tuesday")


def test_expiry_options_exclude_each_other(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="not allowed with argument"):
        manage("create_api_key", proxy.slug, "--name", "b", "--no-expiry", "--expires-in-days", "3")


def test_gateways_restrict_where_the_key_works(manage):
    proxy, first, second = ProxyFactory(), GatewayFactory(), GatewayFactory()
    GatewayFactory()
    manage(
        "create_api_key",
        proxy.slug,
        "--name",
        "edge",
        "--gateway",
        first.slug,
        "--gateway",
        second.slug,
    )
    assert set(APIKey.objects.get().gateways.all()) == {first, second}


def test_unknown_gateway_is_an_error_and_creates_nothing(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="No gateway 'ghost'"):
        manage("create_api_key", proxy.slug, "--name", "edge", "--gateway", "ghost")
    assert not APIKey.objects.exists()


def test_duplicate_active_name_is_an_error(manage):
    proxy = ProxyFactory()
    api_key(proxy, name="mobile app")
    with pytest.raises(CommandError, match="already has an active key named 'mobile app'"):
        manage("create_api_key", proxy.slug, "--name", "mobile app")


def test_too_short_name_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="name: Ensure this value has at least 3 characters"):
        manage("create_api_key", proxy.slug, "--name", "ab")


def test_unknown_proxy_is_an_error(manage):
    with pytest.raises(CommandError, match="No proxy 'ghost'"):
        manage("create_api_key", "ghost", "--name", "edge")


def test_json_output_holds_the_key_and_its_id(manage):
    proxy = ProxyFactory()
    out, _ = manage("create_api_key", proxy.slug, "--name", "mobile app", "--json")
    data = json.loads(out)
    key = APIKey.objects.get(pk=data["id"])
    assert key.key_hash == crypto.hash_secret(data["key"])
