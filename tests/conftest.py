"""Fixtures shared by the whole suite. Area-specific fixtures live in each folder's conftest."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from proxies import services as proxy_services
from tests.factories import UserFactory


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def viewer_user(db):
    """Staff user with every ``view_*`` permission of our apps and nothing else."""
    user = UserFactory(username="viewer", is_staff=True)
    perms = Permission.objects.filter(
        content_type__app_label__in=["proxies", "guardrails", "gateways", "deployments"],
        codename__startswith="view_",
    )
    user.user_permissions.set(perms)
    return user


def _token_client(user) -> APIClient:
    _, secret = proxy_services.management_token_create(user=user, name="tests", expires_at=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(admin_user) -> APIClient:
    """API client authenticated as a superuser with a management token."""
    return _token_client(admin_user)


@pytest.fixture
def viewer_api(viewer_user) -> APIClient:
    return _token_client(viewer_user)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def fixed_template(db):
    """An organisation's template whose upstream URL providers may not change."""
    return proxy_services.template_create(
        slug="fixed-endpoint",
        display_name="Fixed endpoint",
        adapter="openai",
        upstream_url="https://llm.example.com/v1",
        upstream_url_editable=False,
        upstream_auth_header="Authorization",
        upstream_auth_prefix="Bearer ",
    )
