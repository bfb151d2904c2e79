"""Issuing and revoking management API tokens in the admin."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

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
    _, secret = proxy_services.management_token_create(user=admin_user, name="ci", expires_at=None)

    assert secret not in admin_client.get(CHANGELIST_URL).content.decode()


def test_revoke_action_revokes_tokens(admin_client, admin_user):
    token, _ = proxy_services.management_token_create(user=admin_user, name="ci", expires_at=None)

    admin_client.post(CHANGELIST_URL, {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_issue_form_suggests_an_expiry_in_90_days(admin_client):
    suggested = timezone.localtime() + timedelta(days=90)

    page = admin_client.get(ISSUE_URL).content.decode()

    assert f'value="{suggested:%Y-%m-%d}T' in page


def test_an_issued_token_gets_the_expiry_given(admin_client):
    admin_client.post(ISSUE_URL, {"name": "ci", "expires_at": "2099-01-31T12:00"})

    expires_at = timezone.localtime(ManagementToken.objects.get().expires_at)
    assert (expires_at.date().isoformat(), expires_at.hour) == ("2099-01-31", 12)


def test_a_token_issued_without_an_expiry_never_expires(admin_client):
    admin_client.post(ISSUE_URL, {"name": "ci", "expires_at": ""})

    assert ManagementToken.objects.get().expires_at is None


def test_an_expiry_in_the_past_is_a_form_error(admin_client):
    response = admin_client.post(ISSUE_URL, {"name": "ci", "expires_at": "2001-01-01T00:00"})

    assert "The expiry must be in the future." in response.content.decode()
    assert not ManagementToken.objects.exists()


def test_the_token_list_shows_each_expiry(admin_client, admin_user):
    proxy_services.management_token_create(
        user=admin_user, name="ci", expires_at=timezone.now() + timedelta(days=3)
    )
    proxy_services.management_token_create(user=admin_user, name="forever", expires_at=None)

    page = admin_client.get(CHANGELIST_URL).content.decode()

    expected = timezone.localtime(timezone.now() + timedelta(days=3))
    assert f"{expected:%Y-%m-%d}" in page and ">never<" in page
