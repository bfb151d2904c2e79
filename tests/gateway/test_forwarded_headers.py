"""Which request headers reach the upstream: the client's own API headers do, byte for byte;
what describes the client's side of the gateway, cookies, hop-by-hop headers and other
credentials do not."""

import orjson

from tests.gateway.raw_http import raw_request

CHAT = orjson.dumps({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]})


def send(world, headers: dict[str, str]):
    return raw_request(
        world.server.port,
        "POST",
        f"/{world.openai_proxy.slug}/chat/completions",
        {
            "Authorization": f"Bearer {world.openai_key}",
            "Content-Type": "application/json",
            **headers,
        },
        CHAT,
    )


def forwarded(upstream) -> dict[str, str]:
    (received,) = upstream.received()
    return received["headers"]


def test_client_side_descriptions_are_not_forwarded(world, upstream):
    send(
        world,
        {
            "X-Forwarded-For": "10.0.0.1",
            "X-Forwarded-Host": "internal.example",
            "X-Forwarded-Proto": "http",
            "Forwarded": "for=10.0.0.1",
            "X-Real-IP": "10.0.0.1",
        },
    )
    headers = forwarded(upstream)
    assert not {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"} & set(headers)
    assert "forwarded" not in headers
    assert "x-real-ip" not in headers


def test_cookies_are_not_forwarded(world, upstream):
    send(world, {"Cookie": "session=abc"})
    assert "cookie" not in forwarded(upstream)


def test_headers_named_in_connection_are_not_forwarded(world, upstream):
    send(world, {"Connection": "close, X-Trace-Hop", "X-Trace-Hop": "1", "X-Kept": "yes"})
    headers = forwarded(upstream)
    assert "x-trace-hop" not in headers
    assert headers["x-kept"] == "yes"


def test_other_apis_key_headers_are_not_forwarded(world, upstream):
    send(world, {"api-key": "azure-secret", "x-api-key": "sk-ant-x", "x-goog-api-key": "g"})
    headers = forwarded(upstream)
    assert not {"api-key", "x-api-key", "x-goog-api-key"} & set(headers)
    assert headers["authorization"] == "Bearer sk-upstream-secret"


def test_client_api_headers_are_forwarded(world, upstream):
    send(world, {"OpenAI-Beta": "assistants=v2", "X-Stainless-Lang": "python"})
    headers = forwarded(upstream)
    assert headers["openai-beta"] == "assistants=v2"
    assert headers["x-stainless-lang"] == "python"


def test_utf8_header_values_reach_the_upstream_unchanged(world, upstream):
    value = "café ☕".encode().decode("latin-1")  # sent as its UTF-8 bytes
    send(world, {"X-Title": value})
    assert forwarded(upstream)["x-title"].encode("latin-1") == "café ☕".encode()


def test_a_header_value_that_is_not_utf8_is_refused(world, upstream):
    response = send(world, {"X-Title": "caf\xe9"})  # a lone Latin-1 byte
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_header"
    assert upstream.received() == []
