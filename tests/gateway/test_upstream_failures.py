"""Unreachable and slow upstreams: 502 and 504 in the OpenAI error shape."""

import openai
import pytest

from deployments.services import deploy
from tests.gateway.conftest import free_port, make_openai_proxy, wait_for_revision

MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def failing(world):
    """A proxy whose upstream port has nothing listening, and one with a 0.3 s read timeout."""
    from proxies.services import provider_update
    from tests.factories import api_key

    dead = make_openai_proxy(f"http://127.0.0.1:{free_port()}", "dead end")
    slow = make_openai_proxy(world.extras.get("upstream_url") or _upstream_url(world), "slowpoke")
    provider_update(provider=slow.provider, read_timeout=0.3, connect_timeout=1.0)
    for proxy in (dead, slow):
        deploy(proxy=proxy, gateway=world.gateway)
    keys = {proxy.slug: api_key(proxy)[1] for proxy in (dead, slow)}
    wait_for_revision(world.server)
    return dead, slow, keys


def _upstream_url(world) -> str:
    return world.openai_proxy.provider.upstream_url.removesuffix("/v1")


def test_unreachable_upstream_raises_502(world, failing):
    dead, _, keys = failing
    sdk = openai.OpenAI(
        base_url=world.server.invoke_url(dead), api_key=keys[dead.slug], max_retries=0
    )
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"


def test_upstream_slower_than_the_read_timeout_raises_504(world, failing, upstream):
    _, slow, keys = failing
    sdk = openai.OpenAI(
        base_url=world.server.invoke_url(slow),
        api_key=keys[slow.slug],
        max_retries=0,
        default_headers={"x-fake-delay": "2"},
    )
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"
