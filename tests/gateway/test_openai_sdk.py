"""The invoke endpoint driven by the official OpenAI SDK (sync, async, streaming)."""

import asyncio

import httpx
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Hello"}]


def client(world, key=None, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=world.server.invoke_url(world.openai_proxy),
        api_key=key or world.openai_key,
        max_retries=0,
        **kwargs,
    )


def test_chat_completion_returns_the_upstream_answer(world, upstream):
    completion = client(world).chat.completions.create(model="fake-model", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: Hello"
    assert completion.usage.total_tokens == 13


def test_async_client_gets_the_same_answer(world, upstream):
    async def call():
        async with openai.AsyncOpenAI(
            base_url=world.server.invoke_url(world.openai_proxy),
            api_key=world.openai_key,
            max_retries=0,
        ) as aclient:
            return await aclient.chat.completions.create(model="fake-model", messages=MESSAGES)

    completion = asyncio.run(call())
    assert completion.choices[0].message.content == "echo: Hello"


def test_streamed_completion_arrives_as_chunks(world, upstream):
    stream = client(world).chat.completions.create(
        model="fake-model", messages=MESSAGES, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "chunk0 chunk1 chunk2 "


def test_embeddings_and_models_are_relayed(world, upstream):
    sdk = client(world)
    embedding = sdk.embeddings.create(model="fake-embed", input="hi")
    models = sdk.models.list()
    assert embedding.data[0].embedding == [0.1, 0.2, 0.3]
    assert [m.id for m in models.data] == ["fake-model"]


def test_provider_credential_replaces_the_client_key(world, upstream):
    client(world).chat.completions.create(model="fake-model", messages=MESSAGES)
    (received,) = upstream.received()
    assert received["headers"]["authorization"] == "Bearer sk-upstream-secret"
    assert world.openai_key not in str(received)


def test_resource_path_is_appended_to_the_upstream_url(world, upstream):
    client(world).chat.completions.create(model="fake-model", messages=MESSAGES)
    (received,) = upstream.received()
    assert received["path"] == "/v1/chat/completions"


def test_query_string_and_provider_headers_are_forwarded(world, upstream):
    response = httpx.post(
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions?api-version=2024-10-21",
        headers={
            "Authorization": f"Bearer {world.openai_key}",
            "OpenAI-Beta": "assistants=v2",
            "X-Stainless-Lang": "python",
            "Connection": "keep-alive",
        },
        json={"model": "fake-model", "messages": MESSAGES},
    )
    assert response.status_code == 200
    (received,) = upstream.received()
    assert received["query"] == "api-version=2024-10-21"
    assert received["headers"]["openai-beta"] == "assistants=v2"
    assert received["headers"]["x-stainless-lang"] == "python"
    assert "keep-alive" not in received["headers"].get("connection", "")


def test_response_names_the_deployment_that_served_it(world, upstream):
    raw = client(world).chat.completions.with_raw_response.create(
        model="fake-model", messages=MESSAGES
    )
    assert raw.headers["x-gatehouse-deployment"].startswith(f"{world.gateway.slug}_")


def test_missing_key_raises_authentication_error(world, upstream):
    sdk = client(world, default_headers={"Authorization": ""})
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"
    assert upstream.received() == []


def test_wrong_key_raises_authentication_error_with_a_readable_message(world, upstream):
    with pytest.raises(openai.AuthenticationError) as caught:
        client(world, key="gh-not-a-real-key").chat.completions.create(
            model="fake-model", messages=MESSAGES
        )
    assert "Invalid API key." in caught.value.message


def test_unknown_proxy_raises_not_found(world, upstream):
    sdk = openai.OpenAI(
        base_url=f"{world.server.url}/no-such-proxy", api_key=world.openai_key, max_retries=0
    )
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert "no-such-proxy" in caught.value.message


def test_body_over_the_limit_is_rejected_with_413(world, upstream):
    from django.conf import settings

    huge = "x" * (settings.GATEHOUSE_MAX_BODY_BYTES + 1)
    with pytest.raises(openai.APIStatusError) as caught:
        client(world).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": huge}]
        )
    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large"


def test_malformed_json_is_rejected_with_400(world, upstream):
    response = httpx.post(
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {world.openai_key}", "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_upstream_error_passes_through_unchanged(world, upstream):
    body = '{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}}'
    sdk = client(world, default_headers={"x-fake-status": "429", "x-fake-body": body})
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert "Rate limit reached" in caught.value.message
    assert caught.value.code == "rate_limit"


def test_upstream_server_error_passes_through_unchanged(world, upstream):
    body = '{"error": {"message": "upstream exploded", "type": "server_error"}}'
    sdk = client(world, default_headers={"x-fake-status": "503", "x-fake-body": body})
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert caught.value.status_code == 503
    assert "upstream exploded" in caught.value.message


def test_garbage_from_the_upstream_becomes_502(world, upstream):
    sdk = client(world, default_headers={"x-fake-mode": "garbage"})
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert caught.value.code == "invalid_upstream_response"


def test_broken_upstream_response_becomes_502(world, upstream):
    sdk = client(world, default_headers={"x-fake-mode": "broken"})
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert caught.value.status_code == 502


def test_chunked_body_is_counted_while_reading_and_rejected_with_413(world, upstream):
    from django.conf import settings

    megabyte = b"x" * (1 << 20)
    chunks = settings.GATEHOUSE_MAX_BODY_BYTES // len(megabyte) + 2
    response = httpx.post(
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {world.openai_key}"},
        content=(megabyte for _ in range(chunks)),
    )
    assert response.status_code == 413
    assert upstream.received() == []
