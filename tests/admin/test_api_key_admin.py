"""Generating, listing and revoking API keys in the admin."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from proxies.models import APIKey, APIKeyStatus
from tests.admin.form_data import text_of
from tests.factories import GatewayFactory, ProxyFactory, api_key

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"gh-[A-Za-z0-9_\-]{20,}")
CHANGELIST_URL = reverse("admin:proxies_apikey_changelist")


def generate_url(proxy):
    return reverse("admin:proxies_proxy_generate_key", args=[proxy.pk])


def generate(client, proxy, **overrides):
    data = {"name": "mobile app", "expires_at": "", **overrides}
    return client.post(generate_url(proxy), data)


def test_generate_form_suggests_an_expiry_90_days_ahead(admin_client):
    form = admin_client.get(generate_url(ProxyFactory())).context["form"]

    suggested = form["expires_at"].initial
    assert abs(suggested - (timezone.now() + timedelta(days=90))) < timedelta(minutes=2)


def test_generating_a_key_shows_the_secret_in_the_response(admin_client):
    response = generate(admin_client, ProxyFactory())

    assert SECRET.search(response.content.decode())
    assert "you will not see it again" in text_of(response)


def test_generated_key_is_stored_only_as_a_hash(admin_client):
    response = generate(admin_client, ProxyFactory())

    secret = SECRET.search(response.content.decode()).group(0)
    key = APIKey.objects.get()
    assert secret not in (key.key_hash, key.masked)


def test_secret_is_not_put_in_messages_or_the_session(admin_client):
    response = generate(admin_client, ProxyFactory())

    secret = SECRET.search(response.content.decode()).group(0)
    assert secret not in str(dict(admin_client.session))
    assert secret not in text_of(admin_client.get(CHANGELIST_URL))


def test_key_list_and_detail_never_show_the_secret(admin_client):
    proxy = ProxyFactory()
    key, secret = api_key(proxy)
    detail = reverse("admin:proxies_apikey_change", args=[key.pk])
    proxy_page = reverse("admin:proxies_proxy_change", args=[proxy.pk])

    pages = [admin_client.get(url).content.decode() for url in (CHANGELIST_URL, detail, proxy_page)]

    assert all(secret not in page and key.masked in page for page in pages)


def test_expiry_and_gateway_restriction_are_recorded(admin_client):
    gateway = GatewayFactory()
    generate(admin_client, ProxyFactory(), expires_at="2099-01-01T10:00", gateways=[gateway.pk])

    key = APIKey.objects.get()
    assert (key.expires_at.year, list(key.gateways.all())) == (2099, [gateway])


def test_generating_records_who_created_the_key(admin_client, admin_user):
    generate(admin_client, ProxyFactory())

    assert APIKey.objects.get().created_by == admin_user


def test_short_key_name_is_a_form_error(admin_client):
    response = generate(admin_client, ProxyFactory(), name="ab")

    assert "name" in response.context["form"].errors
    assert not APIKey.objects.exists()


def test_past_expiry_is_a_form_error(admin_client):
    response = generate(admin_client, ProxyFactory(), expires_at="2001-01-01T00:00")

    assert response.context["form"].errors["expires_at"] == ["The expiry must be in the future."]


def test_duplicate_active_key_name_is_a_form_error(admin_client):
    proxy = ProxyFactory()
    api_key(proxy, name="mobile app")

    response = generate(admin_client, proxy)

    assert response.context["form"].errors["name"] == ["This name is taken."]


def test_revoke_action_revokes_the_selected_keys(admin_client):
    key, _ = api_key(ProxyFactory())
    data = {"action": "revoke", "_selected_action": [key.pk]}

    admin_client.post(CHANGELIST_URL, data)

    key.refresh_from_db()
    assert key.status == APIKeyStatus.REVOKED


def test_revoke_button_on_the_key_page_revokes_it(admin_client):
    key, _ = api_key(ProxyFactory())

    admin_client.post(reverse("admin:proxies_apikey_revoke", args=[key.pk]))

    key.refresh_from_db()
    assert key.status == APIKeyStatus.REVOKED


def test_revoking_an_already_revoked_key_says_so(admin_client):
    key, _ = api_key(ProxyFactory())
    admin_client.post(reverse("admin:proxies_apikey_revoke", args=[key.pk]))

    response = admin_client.post(reverse("admin:proxies_apikey_revoke", args=[key.pk]), follow=True)

    assert "already revoked" in text_of(response)
