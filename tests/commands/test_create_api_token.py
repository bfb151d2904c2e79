from datetime import UTC, datetime, timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from proxies import crypto
from proxies.models import ManagementToken
from tests.factories import UserFactory


def test_prints_only_the_token_and_stores_its_hash(manage):
    user = UserFactory(username="ci")
    out, _ = manage("create_api_token", "ci", "--name", "pipeline")
    secret = out.strip()
    token = ManagementToken.objects.get(user=user)
    assert (token.token_hash, token.name) == (crypto.hash_secret(secret), "pipeline")


def test_printed_token_starts_with_the_product_prefix(manage):
    UserFactory(username="ci")
    out, _ = manage("create_api_token", "ci")
    assert out.startswith(ManagementToken.PREFIX) and out.count("\n") == 1


def test_unknown_user_is_an_error(manage):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        manage("create_api_token", "nobody")


def test_inactive_user_gets_a_warning(manage):
    UserFactory(username="gone", is_active=False)
    _, err = manage("create_api_token", "gone")
    assert "inactive" in err


def issued(manage, *args: str) -> ManagementToken:
    UserFactory(username="ci")
    out, _ = manage("create_api_token", "ci", *args)
    return ManagementToken.objects.get(token_hash=crypto.hash_secret(out.strip()))


def test_a_token_expires_in_90_days_by_default(manage):
    token = issued(manage)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)


def test_expires_in_days_sets_the_expiry(manage):
    token = issued(manage, "--expires-in-days", "7")
    assert abs(token.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)


def test_expires_at_sets_the_expiry(manage):
    token = issued(manage, "--expires-at", "2099-01-31T12:00:00+00:00")
    assert token.expires_at == datetime(2099, 1, 31, 12, tzinfo=UTC)


def test_no_expiry_issues_a_token_that_never_expires(manage):
    assert issued(manage, "--no-expiry").expires_at is None


def test_the_note_says_when_the_token_expires(manage):
    UserFactory(username="ci")
    _, err = manage("create_api_token", "ci", "--expires-at", "2099-01-31T12:00:00+00:00")
    assert "expires 2099-01-31 12:00:00 UTC" in err


def test_an_expiry_in_the_past_is_an_error(manage):
    UserFactory(username="ci")
    with pytest.raises(CommandError, match="The expiry must be in the future"):
        manage("create_api_token", "ci", "--expires-at", "2001-01-01")
