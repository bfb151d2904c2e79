"""The Azure AI Foundry template driven by the official ``openai`` SDK's ``AzureOpenAI``
client on its OpenAI deployment routes."""

import openai
import pytest

from tests.vendors.conftest import assert_upstream_auth, deploy_proxies, the_request

CREDENTIAL = "foundry-upstream-key"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def foundry(committed, fake_upstream, start_gateway):
    spec = {
        "template": "azure-ai-foundry",
        "upstream_url": fake_upstream.url,
        "credential": CREDENTIAL,
    }
    return deploy_proxies(start_gateway, "foundry edge", foundry=spec)["foundry"]


def client(deployed) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=deployed.url, api_key=deployed.key, api_version="2024-10-21", max_retries=0
    )


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_chat_completion_reaches_the_deployment_with_the_gateway_credential(
    foundry, upstream, usage_row
):
    completion = client(foundry).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: Hello"
    received = the_request(upstream)
    assert received["path"] == "/openai/deployments/gpt-4o/chat/completions"
    assert_upstream_auth(received, "api-key", CREDENTIAL, foundry.key)
    assert tokens(usage_row(foundry.proxy)) == (10, 3, 13)


def test_streamed_chat_completion_records_usage(foundry, upstream, usage_row):
    stream = client(foundry).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "chunk0 chunk1 chunk2 "
    assert_upstream_auth(the_request(upstream), "api-key", CREDENTIAL, foundry.key)
    row = usage_row(foundry.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)
