"""The invoke endpoint driven by the official Anthropic SDK."""

import anthropic
import pytest


def client(world, key=None, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=world.server.invoke_url(world.anthropic_proxy),
        api_key=key or world.anthropic_key,
        max_retries=0,
        **kwargs,
    )


def create(sdk: anthropic.Anthropic):
    return sdk.messages.create(
        model="claude-fake", max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    )


def test_messages_create_returns_the_upstream_answer(world, upstream):
    message = create(client(world))
    assert message.content[0].text == "echo: Hello"
    assert message.usage.output_tokens == 3


def test_messages_stream_yields_text_and_final_usage(world, upstream):
    with client(world).messages.stream(
        model="claude-fake", max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "chunk0 chunk1 chunk2 "
    assert final.usage.output_tokens == 3


def test_x_api_key_is_replaced_by_the_provider_credential(world, upstream):
    create(client(world))
    (received,) = upstream.received()
    assert received["path"] == "/v1/messages"
    assert received["headers"]["x-api-key"] == "sk-ant-upstream"
    assert received["headers"]["anthropic-version"]


def test_invalid_key_raises_authentication_error_in_anthropic_shape(world, upstream):
    with pytest.raises(anthropic.AuthenticationError) as caught:
        create(client(world, key="gh-wrong"))
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert upstream.received() == []


def test_unknown_resource_raises_not_found(world, upstream):
    sdk = anthropic.Anthropic(
        base_url=f"{world.server.url}/missing-proxy", api_key=world.anthropic_key, max_retries=0
    )
    with pytest.raises(anthropic.NotFoundError):
        create(sdk)


def test_upstream_overload_passes_through(world, upstream):
    body = '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    sdk = client(world, default_headers={"x-fake-status": "529", "x-fake-body": body})
    with pytest.raises(anthropic.APIStatusError) as caught:
        create(sdk)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_bearer_key_from_newer_sdks_is_accepted_and_not_forwarded(world, upstream):
    import httpx

    response = httpx.post(
        f"{world.server.invoke_url(world.anthropic_proxy)}/v1/messages",
        headers={
            "Authorization": f"Bearer {world.anthropic_key}",
            "anthropic-version": "2023-06-01",
        },
        json={"model": "claude-fake", "max_tokens": 5, "messages": []},
    )
    assert response.status_code == 200
    assert "authorization" not in upstream.received()[0]["headers"]
