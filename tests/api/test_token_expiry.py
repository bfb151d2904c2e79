"""Management API tokens stop working at their expiry, with a 401 saying so."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from proxies import services as proxy_services
from proxies.models import ManagementToken
from tests.api import expect

URL = "/api/v1/providers/"


def client_with(token_secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_secret}")
    return client


def issue(user, expires_at) -> tuple[ManagementToken, str]:
    return proxy_services.management_token_create(user=user, name="ci", expires_at=expires_at)


def test_a_token_works_before_its_expiry(admin_user):
    _, secret = issue(admin_user, timezone.now() + timedelta(days=1))
    assert client_with(secret).get(URL).status_code == 200


def test_an_expired_token_gets_401(admin_user):
    token, secret = issue(admin_user, timezone.now() + timedelta(days=1))
    ManagementToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    expect.error(client_with(secret).get(URL), 401, "UNAUTHORIZED")


def test_the_401_says_the_token_expired_and_what_to_do(admin_user):
    token, secret = issue(admin_user, timezone.now() + timedelta(days=1))
    ManagementToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    message = client_with(secret).get(URL).json()["message"]
    assert "The API token expired on" in message and "create_api_token" in message


def test_a_token_without_an_expiry_keeps_working(admin_user):
    _, secret = issue(admin_user, None)
    assert client_with(secret).get(URL).status_code == 200
