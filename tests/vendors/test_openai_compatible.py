"""The OpenAI-compatible template (vLLM, Ollama ...) driven by the official ``openai`` SDK."""

import openai
import pytest

from tests.vendors.conftest import assert_upstream_auth, deploy_proxies, the_request

CREDENTIAL = "self-hosted-key"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def served(committed, fake_upstream, start_gateway):
    spec = {
        "template": "openai-compatible",
        "upstream_url": f"{fake_upstream.url}/v1",
        "credential": CREDENTIAL,
    }
    return deploy_proxies(start_gateway, "compatible edge", served=spec)["served"]


def client(deployed) -> openai.OpenAI:
    return openai.OpenAI(base_url=deployed.url, api_key=deployed.key, max_retries=0)


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_chat_completion_reaches_the_server_with_the_gateway_credential(
    served, upstream, usage_row
):
    completion = client(served).chat.completions.create(model="llama-3", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: Hello"
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", served.key)
    assert tokens(usage_row(served.proxy)) == (10, 3, 13)


def test_streamed_chat_completion_records_usage(served, upstream, usage_row):
    stream = client(served).chat.completions.create(model="llama-3", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "chunk0 chunk1 chunk2 "
    assert_upstream_auth(the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", served.key)
    row = usage_row(served.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)
