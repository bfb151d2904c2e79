"""Issuing and revoking management API tokens in the admin."""

import re

import pytest
from django.urls import reverse

from proxies import services as proxy_services
from proxies.models import ManagementToken

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"ghm-[A-Za-z0-9_\-]{20,}")
ISSUE_URL = reverse("admin:proxies_managementtoken_issue")
CHANGELIST_URL = reverse("admin:proxies_managementtoken_changelist")


def test_issuing_a_token_shows_it_once_for_the_current_user(admin_client, admin_user):
    response = admin_client.post(ISSUE_URL, {"name": "ci"})

    assert SECRET.search(response.content.decode())
    assert ManagementToken.objects.get().user == admin_user


def test_token_list_never_shows_the_secret(admin_client, admin_user):
    _, secret = proxy_services.management_token_create(user=admin_user, name="ci")

    assert secret not in admin_client.get(CHANGELIST_URL).content.decode()


def test_revoke_action_revokes_tokens(admin_client, admin_user):
    token, _ = proxy_services.management_token_create(user=admin_user, name="ci")

    admin_client.post(CHANGELIST_URL, {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None
