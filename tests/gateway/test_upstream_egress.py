"""A gateway process refuses to contact an upstream at an address outside the public internet
unless its own settings allow that network, whatever the database says."""

import httpx
import pytest

from deployments.services import deploy
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def fenced(committed, fake_upstream, start_gateway):
    gateway = GatewayFactory(name="fenced egress")
    proxy = make_openai_proxy(fake_upstream.url, "loopback chat")
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    server = start_gateway(gateway.slug, GATEHOUSE_ALLOWED_PRIVATE_NETWORKS="")
    return server, proxy, key


def test_an_upstream_on_loopback_is_refused_without_being_contacted(fenced, upstream):
    server, proxy, key = fenced
    response = httpx.post(
        f"{server.invoke_url(proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json=CHAT,
        timeout=10,
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_not_allowed"
    assert upstream.received() == []
