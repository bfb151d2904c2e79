"""Routing (context, resources, access control, allowed models) and inbound key checks."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from deployments.services import deploy
from proxies.services import provider_update
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy, wait_for_revision, wait_until

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def proxies(world, fake_upstream):
    """Proxies with a context, a resource list, provider access control and allowed models,
    and one that takes its key from a query parameter with a custom prefix."""
    scoped = make_openai_proxy(
        fake_upstream.url,
        "scoped",
        context="/team/v2",
        resources=[{"method": "POST", "path": "/chat/completions"}],
    )
    guarded = make_openai_proxy(fake_upstream.url, "guarded")
    provider_update(
        provider=guarded.provider,
        access_mode="allow_all",
        access_exceptions=[{"method": "POST", "path": "/embeddings"}],
        allowed_models=["fake-model"],
    )
    closed = make_openai_proxy(fake_upstream.url, "closed")
    provider_update(
        provider=closed.provider,
        access_mode="deny_all",
        access_exceptions=[{"method": "GET", "path": "/models/{model}"}],
    )
    query = make_openai_proxy(
        fake_upstream.url, "by-query", inbound_key_in="query", inbound_key_name="key"
    )
    prefixed = make_openai_proxy(
        fake_upstream.url, "prefixed", inbound_key_name="X-Team-Key", inbound_key_prefix="Team "
    )
    found = {p.slug: p for p in (scoped, guarded, closed, query, prefixed)}
    for proxy in found.values():
        deploy(proxy=proxy, gateway=world.gateway)
    keys = {slug: api_key(proxy)[1] for slug, proxy in found.items()}
    wait_for_revision(world.server)
    return found, keys


def call(world, proxy, resource, key, method="POST", **kwargs):
    headers = kwargs.pop("headers", {"Authorization": f"Bearer {key}"})
    url = f"{world.server.invoke_url(proxy)}{resource}"
    return httpx.request(method, url, headers=headers, timeout=10, **kwargs)


def test_context_is_part_of_the_invoke_url(world, proxies, upstream):
    found, keys = proxies
    response = call(world, found["scoped"], "/chat/completions", keys["scoped"], json=CHAT)
    assert response.status_code == 200
    assert upstream.received()[0]["path"] == "/v1/chat/completions"


def test_path_outside_the_context_is_not_found(world, proxies, upstream):
    _, keys = proxies
    url = f"{world.server.url}/scoped/chat/completions"
    response = httpx.post(url, headers={"Authorization": f"Bearer {keys['scoped']}"}, json=CHAT)
    assert response.status_code == 404


def test_resource_not_exposed_by_the_proxy_is_not_found(world, proxies, upstream):
    found, keys = proxies
    response = call(world, found["scoped"], "/models", keys["scoped"], method="GET")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert upstream.received() == []


def test_resource_denied_by_provider_access_control_is_not_found(world, proxies, upstream):
    found, keys = proxies
    response = call(
        world, found["guarded"], "/embeddings", keys["guarded"], json={"input": "x", "model": "m"}
    )
    assert response.status_code == 404


def test_deny_all_provider_allows_only_its_exceptions(world, proxies, upstream):
    found, keys = proxies
    denied = call(world, found["closed"], "/models", keys["closed"], method="GET")
    allowed = call(world, found["closed"], "/models/fake-model", keys["closed"], method="GET")
    assert denied.status_code == 404
    assert allowed.status_code == 200


def test_model_outside_allowed_models_is_forbidden(world, proxies, upstream):
    found, keys = proxies
    body = {**CHAT, "model": "gpt-expensive"}
    response = call(world, found["guarded"], "/chat/completions", keys["guarded"], json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "model_not_allowed"


def test_allowed_model_goes_through(world, proxies, upstream):
    found, keys = proxies
    response = call(world, found["guarded"], "/chat/completions", keys["guarded"], json=CHAT)
    assert response.status_code == 200


def test_key_of_another_proxy_is_rejected(world, proxies, upstream):
    found, keys = proxies
    response = call(world, found["guarded"], "/chat/completions", keys["scoped"], json=CHAT)
    assert response.status_code == 401


def test_key_in_query_parameter_is_accepted_and_not_forwarded(world, proxies, upstream):
    found, keys = proxies
    response = call(
        world,
        found["by-query"],
        f"/chat/completions?key={keys['by-query']}&trace=1",
        None,
        headers={},
        json=CHAT,
    )
    assert response.status_code == 200
    assert upstream.received()[0]["query"] == "trace=1"


def test_custom_header_and_prefix_match_case_insensitively(world, proxies, upstream):
    found, keys = proxies
    headers = {"x-team-key": f"TEAM {keys['prefixed']}"}
    response = call(world, found["prefixed"], "/chat/completions", None, headers=headers, json=CHAT)
    assert response.status_code == 200
    assert "x-team-key" not in upstream.received()[0]["headers"]


def test_key_restricted_to_another_gateway_is_forbidden(world, proxies, upstream):
    found, _ = proxies
    elsewhere = GatewayFactory(name="elsewhere")
    _, secret = api_key(found["guarded"], name="elsewhere only", gateways=[elsewhere])
    wait_for_revision(world.server)
    response = call(world, found["guarded"], "/chat/completions", secret, json=CHAT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "key_not_allowed"


def test_key_is_rejected_once_it_expires(world, proxies, upstream):
    found, _ = proxies
    expires = timezone.now() + timedelta(seconds=1)
    _, secret = api_key(found["guarded"], name="short lived", expires_at=expires)
    wait_for_revision(world.server)
    assert call(world, found["guarded"], "/chat/completions", secret, json=CHAT).status_code == 200
    rejected = wait_until(
        lambda: (
            r
            if (
                r := call(world, found["guarded"], "/chat/completions", secret, json=CHAT)
            ).status_code
            == 401
            else None
        ),
        timeout=5,
    )
    assert rejected.json()["error"]["code"] == "expired_api_key"


def test_last_used_time_is_recorded_off_the_request_path(world, proxies, upstream):
    found, keys = proxies
    from proxies.models import APIKey

    call(world, found["closed"], "/models/fake-model", keys["closed"], method="GET")
    wait_until(
        lambda: APIKey.objects.filter(proxy=found["closed"], last_used_at__isnull=False).exists(),
        timeout=10,
    )
