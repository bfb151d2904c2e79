"""Gateway registration tokens: once a gateway has any, its processes must hold one to serve,
revoking it stops them, and the operational endpoints ask for one."""

import os
import subprocess
import sys

import httpx
import pytest

from deployments.services import deploy
from gateways.selectors import gateway_is_active
from gateways.services import gateway_token_create, gateway_token_revoke
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import ROOT, make_openai_proxy, wait_until

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


def registered(fake_upstream, name: str):
    gateway = GatewayFactory(name=name)
    proxy = make_openai_proxy(fake_upstream.url, f"{name} chat")
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    token_row, token = gateway_token_create(gateway=gateway)
    return gateway, proxy, key, token_row, token


def chat(server, proxy, key) -> httpx.Response:
    return httpx.post(
        f"{server.invoke_url(proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json=CHAT,
        timeout=10,
    )


def test_a_process_without_the_token_refuses_to_start(committed, fake_upstream, database_url):
    gateway, *_ = registered(fake_upstream, "tokened a")
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("GATEHOUSE_GATEWAY_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "run_gateway", gateway.slug, "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "GATEHOUSE_GATEWAY_TOKEN" in result.stderr


def test_a_process_with_a_wrong_token_refuses_to_start(committed, fake_upstream, database_url):
    gateway, *_ = registered(fake_upstream, "tokened b")
    env = {**os.environ, "DATABASE_URL": database_url, "GATEHOUSE_GATEWAY_TOKEN": "ghg-wrong"}
    result = subprocess.run(
        [sys.executable, "manage.py", "run_gateway", gateway.slug, "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "not active" in result.stderr


@pytest.fixture(scope="module")
def serving(committed, fake_upstream, start_gateway):
    gateway, proxy, key, _, token = registered(fake_upstream, "tokened c")
    server = start_gateway(gateway.slug, GATEHOUSE_GATEWAY_TOKEN=token)
    return server, proxy, key, token


def test_a_process_with_the_token_serves(serving):
    server, proxy, key, _ = serving
    assert chat(server, proxy, key).status_code == 200


def test_metrics_need_the_token(serving):
    server, _, _, token = serving
    anonymous = httpx.get(f"{server.url}/_gatehouse/metrics", timeout=5)
    allowed = httpx.get(
        f"{server.url}/_gatehouse/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert anonymous.status_code == 401
    assert allowed.status_code == 200


def test_the_health_check_names_no_proxy(serving):
    server, proxy, _, _ = serving
    health = httpx.get(f"{server.url}/_gatehouse/health", timeout=5)
    assert health.status_code == 200
    assert proxy.slug not in health.text


def test_revoking_the_token_stops_the_process_serving(committed, fake_upstream, start_gateway):
    gateway, proxy, key, token_row, token = registered(fake_upstream, "tokened d")
    server = start_gateway(gateway.slug, GATEHOUSE_GATEWAY_TOKEN=token)
    assert chat(server, proxy, key).status_code == 200
    gateway_token_revoke(token=token_row)
    wait_until(lambda: chat(server, proxy, key).status_code == 503, timeout=3)
    assert chat(server, proxy, key).json()["error"]["code"] == "gateway_not_registered"
    wait_until(lambda: not gateway_is_active(gateway), timeout=10)
