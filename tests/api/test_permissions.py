"""Authentication and Django model permissions on every endpoint."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from proxies import services as proxy_services
from tests.factories import GuardrailFactory, UserFactory, api_key

READS = [
    "/api/v1/templates/",
    "/api/v1/templates/openai/",
    "/api/v1/providers/",
    "/api/v1/providers/{provider}/",
    "/api/v1/providers/{provider}/guardrails/",
    "/api/v1/providers/{provider}/guardrails/{provider_guardrail}/",
    "/api/v1/proxies/",
    "/api/v1/proxies/{proxy}/",
    "/api/v1/proxies/{proxy}/guardrails/",
    "/api/v1/proxies/{proxy}/guardrails/{guardrail}/",
    "/api/v1/proxies/{proxy}/deployments/",
    "/api/v1/proxies/{proxy}/deployments/{deployment}/",
    "/api/v1/proxies/{proxy}/api-keys/",
    "/api/v1/proxies/{proxy}/api-keys/{key}/",
    "/api/v1/deployments/",
    "/api/v1/deployments/{deployment}/",
    "/api/v1/gateways/",
    "/api/v1/gateways/{gateway}/",
    "/api/v1/gateways/{gateway}/tokens/",
    "/api/v1/gateways/{gateway}/tokens/{token}/",
    "/api/v1/guardrails/catalog/",
    "/api/v1/guardrails/catalog/word-count-guardrail/",
]
WRITES = [
    ("post", "/api/v1/templates/"),
    ("patch", "/api/v1/templates/{template}/"),
    ("delete", "/api/v1/templates/{template}/"),
    ("post", "/api/v1/providers/"),
    ("patch", "/api/v1/providers/{provider}/"),
    ("delete", "/api/v1/providers/{provider}/"),
    ("post", "/api/v1/providers/{provider}/guardrails/"),
    ("patch", "/api/v1/providers/{provider}/guardrails/{provider_guardrail}/"),
    ("delete", "/api/v1/providers/{provider}/guardrails/{provider_guardrail}/"),
    ("post", "/api/v1/providers/{provider}/guardrails/reorder/"),
    ("post", "/api/v1/proxies/"),
    ("patch", "/api/v1/proxies/{proxy}/"),
    ("delete", "/api/v1/proxies/{proxy}/"),
    ("post", "/api/v1/proxies/{proxy}/guardrails/"),
    ("patch", "/api/v1/proxies/{proxy}/guardrails/{guardrail}/"),
    ("delete", "/api/v1/proxies/{proxy}/guardrails/{guardrail}/"),
    ("post", "/api/v1/proxies/{proxy}/guardrails/reorder/"),
    ("post", "/api/v1/proxies/{proxy}/deployments/"),
    ("post", "/api/v1/proxies/{proxy}/deployments/{deployment}/stop/"),
    ("post", "/api/v1/proxies/{proxy}/deployments/{deployment}/restore/"),
    ("delete", "/api/v1/proxies/{proxy}/deployments/{deployment}/"),
    ("post", "/api/v1/proxies/{proxy}/api-keys/"),
    ("delete", "/api/v1/proxies/{proxy}/api-keys/{key}/"),
    ("post", "/api/v1/gateways/"),
    ("patch", "/api/v1/gateways/{gateway}/"),
    ("delete", "/api/v1/gateways/{gateway}/"),
    ("post", "/api/v1/gateways/{gateway}/tokens/"),
    ("delete", "/api/v1/gateways/{gateway}/tokens/{token}/"),
]


@pytest.fixture
def world(deployment) -> dict[str, str]:
    """One of everything, by the IDs the URLs use."""
    from gateways import services as gateway_services

    proxy, gateway = deployment.proxy, deployment.gateway
    template = proxy_services.template_create(slug="custom-llm", display_name="Custom LLM")
    token, _ = gateway_services.gateway_token_create(gateway=gateway)
    key, _ = api_key(proxy)
    return {
        "template": template.slug,
        "provider": proxy.provider.slug,
        "provider_guardrail": GuardrailFactory(proxy=None, provider=proxy.provider).pk,
        "proxy": proxy.slug,
        "guardrail": GuardrailFactory(proxy=proxy).pk,
        "deployment": deployment.pk,
        "key": key.pk,
        "gateway": gateway.slug,
        "token": token.pk,
    }


def client_for(user) -> APIClient:
    _, secret = proxy_services.management_token_create(user=user, expires_at=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def user_with(*codenames: str):
    user = UserFactory()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize("path", READS)
def test_anonymous_reads_are_401(anon_api, world, path):
    response = anon_api.get(path.format(**world))
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_anonymous_writes_are_401(anon_api, world, method, path):
    response = getattr(anon_api, method)(path.format(**world), {}, "json")
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize("path", READS)
def test_a_view_only_user_can_read(viewer_api, world, path):
    assert viewer_api.get(path.format(**world)).status_code == 200


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_view_only_user_gets_403_on_writes(viewer_api, world, method, path):
    response = getattr(viewer_api, method)(path.format(**world), {}, "json")
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_a_user_without_view_permission_cannot_read(world):
    client = client_for(user_with("view_provider"))
    assert client.get("/api/v1/proxies/").status_code == 403


def test_nested_routes_check_the_nested_models_permission(world):
    client = client_for(user_with("add_apikey"))
    response = client.post(
        f"/api/v1/proxies/{world['proxy']}/api-keys/", {"name": "ci job"}, "json"
    )
    assert response.status_code == 201


def test_the_nested_permission_does_not_grant_the_parents(world):
    client = client_for(user_with("add_apikey"))
    assert client.post("/api/v1/proxies/", {"name": "New"}, "json").status_code == 403


def test_deploying_needs_add_deployment(world):
    client = client_for(user_with("add_deployment"))
    response = client.post(
        f"/api/v1/proxies/{world['proxy']}/deployments/", {"gateway": world["gateway"]}, "json"
    )
    assert response.status_code == 201


def test_stopping_needs_change_deployment_not_add(world):
    client = client_for(user_with("add_deployment"))
    path = f"/api/v1/proxies/{world['proxy']}/deployments/{world['deployment']}/stop/"
    assert client.post(path).status_code == 403


def test_stopping_with_change_deployment_is_allowed(world):
    client = client_for(user_with("change_deployment"))
    path = f"/api/v1/proxies/{world['proxy']}/deployments/{world['deployment']}/stop/"
    assert client.post(path).status_code == 200


def test_reordering_guardrails_needs_change_permission(world):
    client = client_for(user_with("add_guardrailattachment"))
    path = f"/api/v1/proxies/{world['proxy']}/guardrails/reorder/"
    assert client.post(path, {"ids": [world["guardrail"]]}, "json").status_code == 403


def test_an_unknown_bearer_token_is_401(anon_api, db):
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer ghm-not-a-real-token")
    response = anon_api.get("/api/v1/proxies/")
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHORIZED")


def test_a_401_names_the_bearer_scheme(anon_api, db):
    assert anon_api.get("/api/v1/proxies/")["WWW-Authenticate"] == "Bearer"


def test_a_revoked_management_token_is_401(admin_user):
    token, secret = proxy_services.management_token_create(user=admin_user, expires_at=None)
    proxy_services.management_token_revoke(token=token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/proxies/").status_code == 401


def test_a_session_login_can_use_the_api(admin_user):
    client = APIClient()
    client.force_login(admin_user)
    assert client.get("/api/v1/proxies/").status_code == 200


def test_the_unknown_proxy_is_not_revealed_to_anonymous_users(anon_api, db):
    assert anon_api.get("/api/v1/proxies/nope/api-keys/").status_code == 401
