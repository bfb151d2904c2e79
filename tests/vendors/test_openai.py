"""The OpenAI template driven by the official ``openai`` SDK: chat completions, embeddings and
the Responses API, plain and streamed."""

import openai
import pytest

from tests.vendors.conftest import (
    assert_upstream_auth,
    deploy_proxies,
    template_copy,
    the_request,
)

CREDENTIAL = "sk-openai-upstream"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_gateway):
    base = f"{fake_upstream.url}/v1"
    template = template_copy("openai", base)
    return deploy_proxies(
        start_gateway,
        "openai edge",
        gpt={"template": template, "upstream_url": base, "credential": CREDENTIAL},
        refused={"template": template, "upstream_url": base, "credential": "invalid-key"},
    )


def client(deployed, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=deployed.url, api_key=deployed.key, max_retries=0, **kwargs)


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_chat_completion_reaches_openai_with_the_gateway_credential(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    completion = client(gpt).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: Hello"
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", gpt.key)
    assert tokens(usage_row(gpt.proxy)) == (10, 3, 13)


def test_streamed_chat_completion_records_the_usage_of_its_last_chunk(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    stream = client(gpt).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "chunk0 chunk1 chunk2 "
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", gpt.key)
    row = usage_row(gpt.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)


def test_embeddings_reach_openai_and_record_their_prompt_tokens(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    embedding = client(gpt).embeddings.create(model="text-embedding-3-small", input="Hello")
    assert embedding.data[0].embedding == [0.1, 0.2, 0.3]
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", gpt.key)
    row = usage_row(gpt.proxy)
    assert (row.prompt_tokens, row.total_tokens) == (4, 4)


def test_responses_create_reaches_openai_with_the_gateway_credential(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    response = client(gpt).responses.create(model="gpt-4o-mini", input="Hello")
    assert response.output_text == "echo: Hello"
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", gpt.key)
    assert usage_row(gpt.proxy).status_code == 200


def test_responses_create_records_its_usage(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    client(gpt).responses.create(model="gpt-4o-mini", input="Hello")
    assert tokens(usage_row(gpt.proxy)) == (10, 3, 13)


def test_streamed_responses_arrive_as_typed_events(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    with client(gpt).responses.stream(model="gpt-4o-mini", input="Hello") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "chunk0 chunk1 chunk2 "
    assert final.usage.output_tokens == 3
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", gpt.key)
    assert usage_row(gpt.proxy).streamed is True


def test_streamed_responses_record_the_usage_of_response_completed(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    with client(gpt).responses.stream(model="gpt-4o-mini", input="Hello") as stream:
        stream.get_final_response()
    row = usage_row(gpt.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)


def test_cached_prompt_tokens_reach_the_usage_row(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    completion = client(gpt).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-fake-cached-tokens": "6"}
    )
    assert completion.usage.prompt_tokens_details.cached_tokens == 6
    assert usage_row(gpt.proxy).cached_tokens == 6


def test_cached_input_tokens_of_a_response_reach_the_usage_row(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    response = client(gpt).responses.create(
        model="gpt-4o-mini", input="Hello", extra_headers={"x-fake-cached-tokens": "6"}
    )
    assert response.usage.input_tokens_details.cached_tokens == 6
    assert usage_row(gpt.proxy).cached_tokens == 6


def test_usage_row_carries_the_cost_from_the_price_table(proxies, upstream, usage_row):
    gpt = proxies["gpt"]
    client(gpt).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    expected = (10 * 0.15 + 3 * 0.60) / 1_000_000
    assert float(usage_row(gpt.proxy).cost_usd) == pytest.approx(expected)


def test_upstream_refusing_the_credential_raises_authentication_error(proxies, upstream, usage_row):
    refused = proxies["refused"]
    with pytest.raises(openai.AuthenticationError) as caught:
        client(refused).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"
    assert usage_row(refused.proxy).status_code == 401
