"""Path tricks: every check reads one canonical path, made from the raw bytes, and the upstream
gets exactly the path that was checked. Requests go out byte for byte (``raw_http``)."""

import orjson
import pytest

from deployments.services import deploy
from proxies.services import provider_update
from tests.factories import ProviderFactory, ProxyFactory, api_key
from tests.gateway.conftest import make_openai_proxy, wait_for_revision
from tests.gateway.raw_http import raw_request

CHAT = orjson.dumps({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]})
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0"
ENCODED_ARN = (
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
    "%2Fus.anthropic.claude-v1%3A0"
)


@pytest.fixture(scope="module")
def proxies(world, fake_upstream):
    """An OpenAI-style proxy whose provider denies ``* /files`` and ``* /admin``, and a
    Bedrock proxy that allows only ``cheap-model`` and one inference-profile ARN."""
    fenced = make_openai_proxy(fake_upstream.url, "fenced")
    provider_update(
        provider=fenced.provider,
        access_mode="allow_all",
        access_exceptions=[{"method": "*", "path": "/files"}, {"method": "*", "path": "/admin"}],
    )
    bedrock_provider = ProviderFactory(
        name="bedrock provider",
        template="aws-bedrock",
        upstream_url=f"{fake_upstream.url}/bedrock",
        credential="bedrock-api-key",
    )
    provider_update(provider=bedrock_provider, allowed_models=["cheap-model", ARN])
    bedrock = ProxyFactory(name="bedrock", provider=bedrock_provider)
    for proxy in (fenced, bedrock):
        deploy(proxy=proxy, gateway=world.gateway)
    keys = {"fenced": api_key(fenced)[1], "bedrock": api_key(bedrock)[1]}
    wait_for_revision(world.server)
    return {"fenced": fenced, "bedrock": bedrock}, keys


def send(world, proxies, name: str, path: str, method: str = "POST"):
    found, keys = proxies
    return raw_request(
        world.server.port,
        method,
        f"/{found[name].slug}{path}",
        {"Authorization": f"Bearer {keys[name]}", "Content-Type": "application/json"},
        CHAT if method == "POST" else b"",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/../../admin/secret",
        "/x/../files",
        "/./files",
        "/x%2F..%2Ffiles",
        "/x%2f..%2ffiles",
        "//files",
        "/files/",
        "/admin%3Fx=1",
        "/admin%23x",
        "/x%5C..%5Cfiles",
        "/%2e%2e/files",
        "/fi%00les",
        "/fi%zzles",
    ],
)
def test_a_path_trick_gets_400_and_never_reaches_the_upstream(world, proxies, upstream, path):
    response = send(world, proxies, "fenced", path)
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_path"
    assert upstream.received() == []


def test_a_plain_denied_path_is_still_404(world, proxies, upstream):
    assert send(world, proxies, "fenced", "/files").status == 404
    assert upstream.received() == []


def test_an_escaped_letter_reaches_the_upstream_as_the_caller_wrote_it(world, proxies, upstream):
    response = send(world, proxies, "fenced", "/chat/complet%69ons")
    assert response.status == 200
    (received,) = upstream.received()
    assert received["raw_path"] == "/v1/chat/complet%69ons"


def test_an_escaped_denied_path_is_still_denied(world, proxies, upstream):
    assert send(world, proxies, "fenced", "/fil%65s").status == 404
    assert upstream.received() == []


def test_bedrock_dot_segments_cannot_swap_the_model(world, proxies, upstream):
    response = send(world, proxies, "bedrock", "/model/cheap-model/../expensive-model/converse")
    assert response.status == 400
    assert upstream.received() == []


def test_bedrock_model_outside_the_allowlist_is_refused(world, proxies, upstream):
    response = send(world, proxies, "bedrock", "/model/expensive-model/converse")
    assert response.status == 403
    assert upstream.received() == []


def test_bedrock_arn_is_allowed_by_its_decoded_value_and_forwarded_as_encoded(
    world, proxies, upstream
):
    send(world, proxies, "bedrock", f"/model/{ENCODED_ARN}/converse")
    (received,) = upstream.received()
    assert received["raw_path"] == f"/bedrock/model/{ENCODED_ARN}/converse"


def test_bedrock_arn_cannot_hide_a_dot_segment(world, proxies, upstream):
    response = send(world, proxies, "bedrock", "/model/..%2Fexpensive-model/converse")
    assert response.status == 400
    assert upstream.received() == []


def test_other_query_parameters_reach_the_upstream_byte_for_byte(world, proxies, upstream):
    response = send(world, proxies, "fenced", "/chat/completions?a=%2F&b=x+y&c")
    assert response.status == 200
    (received,) = upstream.received()
    assert received["query"] == "a=%2F&b=x+y&c"
