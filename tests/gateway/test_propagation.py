"""Configuration changes reach every running gateway process within a second."""

import time

import httpx
import pytest

from deployments.selectors import current_deployment
from deployments.services import deploy, restore, stop
from proxies.services import api_key_revoke, provider_set_credential
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy, wait_until

# The product target is one second; the deadline adds room for this test's own polling round
# trips on a busy two-core machine.
PROPAGATION = 1.5
CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def twins(committed, start_gateway):
    """Two processes serving the same gateway."""
    gateway = GatewayFactory(name="twin")
    return gateway, [start_gateway(gateway.slug), start_gateway(gateway.slug)]


def status(server, proxy, key) -> int:
    response = httpx.post(
        f"{server.invoke_url(proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json=CHAT,
        timeout=5,
    )
    return response.status_code


def reaches_both(servers, proxy, key, expected: int) -> float:
    """Seconds until every process answers ``expected``."""
    started = time.monotonic()
    for server in servers:
        wait_until(lambda s=server: status(s, proxy, key) == expected, timeout=PROPAGATION)
    return time.monotonic() - started


def test_deploy_reaches_both_processes_within_a_second(twins, fake_upstream):
    gateway, servers = twins
    proxy = make_openai_proxy(fake_upstream.url, "fresh")
    _, key = api_key(proxy)
    assert {status(s, proxy, key) for s in servers} == {404}
    deploy(proxy=proxy, gateway=gateway)
    assert reaches_both(servers, proxy, key, 200) <= PROPAGATION


def test_stop_reaches_both_processes_within_a_second(twins, fake_upstream):
    gateway, servers = twins
    proxy = make_openai_proxy(fake_upstream.url, "stopping")
    _, key = api_key(proxy)
    deployment = deploy(proxy=proxy, gateway=gateway)
    reaches_both(servers, proxy, key, 200)
    stop(deployment=deployment)
    assert reaches_both(servers, proxy, key, 404) <= PROPAGATION


def test_restore_serves_the_earlier_snapshot_again(twins, fake_upstream):
    gateway, servers = twins
    proxy = make_openai_proxy(fake_upstream.url, "restoring")
    _, key = api_key(proxy)
    first = deploy(proxy=proxy, gateway=gateway)
    stop(deployment=first)
    reaches_both(servers, proxy, key, 404)
    restored = restore(deployment=first)
    reaches_both(servers, proxy, key, 200)
    assert current_deployment(proxy=proxy, gateway=gateway) == restored


def test_revoked_key_is_rejected_by_both_processes_within_a_second(twins, fake_upstream):
    gateway, servers = twins
    proxy = make_openai_proxy(fake_upstream.url, "revoking")
    record, key = api_key(proxy)
    deploy(proxy=proxy, gateway=gateway)
    reaches_both(servers, proxy, key, 200)
    api_key_revoke(api_key=record)
    assert reaches_both(servers, proxy, key, 401) <= PROPAGATION


def test_new_key_is_accepted_by_both_processes_within_a_second(twins, fake_upstream):
    gateway, servers = twins
    proxy = make_openai_proxy(fake_upstream.url, "new keys")
    _, first_key = api_key(proxy, name="first")
    deploy(proxy=proxy, gateway=gateway)
    reaches_both(servers, proxy, first_key, 200)
    _, second_key = api_key(proxy, name="second")
    assert reaches_both(servers, proxy, second_key, 200) <= PROPAGATION


def test_rotated_credential_reaches_both_processes_without_a_redeploy(twins, upstream):
    gateway, servers = twins
    proxy = make_openai_proxy(upstream.url, "rotating", credential="sk-old")
    _, key = api_key(proxy)
    deploy(proxy=proxy, gateway=gateway)
    reaches_both(servers, proxy, key, 200)
    provider_set_credential(provider=proxy.provider, credential="sk-new")
    started = time.monotonic()
    for server in servers:

        def rotated(server=server):
            upstream.clear()
            status(server, proxy, key)
            return upstream.received()[-1]["headers"]["authorization"] == "Bearer sk-new"

        wait_until(rotated, timeout=PROPAGATION)
    assert time.monotonic() - started <= PROPAGATION
