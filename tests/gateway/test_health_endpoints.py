"""Liveness and readiness of a gateway process, as load balancers and Kubernetes probe them."""

import httpx
import pytest

from deployments.services import deploy
from guardrails.services import attachment_create
from tests.factories import GatewayFactory
from tests.gateway.conftest import free_port, make_openai_proxy


def get(server, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}/_gatehouse/{path}", timeout=5)


def test_a_running_process_is_alive(world):
    assert get(world.server, "healthz").status_code == 200


def test_a_process_with_its_snapshot_is_ready(world):
    response = get(world.server, "readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["revision"] >= 0
    assert body["config_age_seconds"] is not None


@pytest.fixture(scope="module")
def closed_limit(committed, fake_upstream, start_gateway):
    """A gateway whose proxy has a limit that fails closed, and a rate-limit store that
    does not answer."""
    gateway = GatewayFactory(name="closed limit")
    proxy = make_openai_proxy(fake_upstream.url, "closed limit chat")
    attachment_create(
        policy="basic-ratelimit",
        proxy=proxy,
        params={"limits": [{"requests": 100}], "failureMode": "closed"},
    )
    deploy(proxy=proxy, gateway=gateway)
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    return start_gateway(gateway.slug, GATEHOUSE_LIMITS_REDIS_URL=dead_redis)


def test_a_process_whose_fail_closed_limit_cannot_count_is_not_ready(closed_limit):
    response = get(closed_limit, "readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["the rate-limit store does not answer"]
    assert get(closed_limit, "healthz").status_code == 200
