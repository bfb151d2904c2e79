import pytest
from django.core.management.base import CommandError

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
