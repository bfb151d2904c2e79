"""The Azure OpenAI template driven by the official ``openai`` SDK's ``AzureOpenAI`` client
(deployment routes with ``api-version``) and by ``OpenAI`` on the ``/openai/v1`` routes."""

import openai
import pytest

from tests.vendors.conftest import assert_upstream_auth, deploy_proxies, the_request

CREDENTIAL = "azure-upstream-key"
API_VERSION = "2024-10-21"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_gateway):
    url = fake_upstream.url
    return deploy_proxies(
        start_gateway,
        "azure edge",
        azure={"template": "azure-openai", "upstream_url": url, "credential": CREDENTIAL},
        refused={"template": "azure-openai", "upstream_url": url, "credential": "invalid-key"},
    )


def client(deployed) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=deployed.url, api_key=deployed.key, api_version=API_VERSION, max_retries=0
    )


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_chat_completion_reaches_the_deployment_with_the_gateway_credential(
    proxies, upstream, usage_row
):
    azure = proxies["azure"]
    completion = client(azure).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: Hello"
    received = the_request(upstream)
    assert received["path"] == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert received["query"] == f"api-version={API_VERSION}"
    assert_upstream_auth(received, "api-key", CREDENTIAL, azure.key)
    assert tokens(usage_row(azure.proxy)) == (10, 3, 13)


def test_streamed_chat_completion_records_usage(proxies, upstream, usage_row):
    azure = proxies["azure"]
    stream = client(azure).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "chunk0 chunk1 chunk2 "
    assert_upstream_auth(the_request(upstream), "api-key", CREDENTIAL, azure.key)
    row = usage_row(azure.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)


def test_embeddings_reach_the_deployment_and_record_their_prompt_tokens(
    proxies, upstream, usage_row
):
    azure = proxies["azure"]
    embedding = client(azure).embeddings.create(model="text-embedding-3-small", input="Hello")
    assert embedding.data[0].embedding == [0.1, 0.2, 0.3]
    assert_upstream_auth(the_request(upstream), "api-key", CREDENTIAL, azure.key)
    row = usage_row(azure.proxy)
    assert (row.prompt_tokens, row.total_tokens) == (4, 4)


def test_v1_routes_take_the_key_in_api_key(proxies, upstream, usage_row):
    azure = proxies["azure"]
    sdk = openai.OpenAI(
        base_url=f"{azure.url}/openai/v1",
        api_key=azure.key,
        default_headers={"api-key": azure.key},
        max_retries=0,
    )
    completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: Hello"
    received = the_request(upstream)
    assert received["path"] == "/openai/v1/chat/completions"
    assert_upstream_auth(received, "api-key", CREDENTIAL, azure.key)
    assert tokens(usage_row(azure.proxy)) == (10, 3, 13)


def test_v1_routes_take_the_key_as_the_openai_client_sends_it(proxies, upstream, usage_row):
    azure = proxies["azure"]
    sdk = openai.OpenAI(base_url=f"{azure.url}/openai/v1", api_key=azure.key, max_retries=0)
    try:
        completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        usage_row(azure.proxy)
    assert completion.choices[0].message.content == "echo: Hello"


def test_upstream_refusing_the_credential_raises_authentication_error(proxies, upstream, usage_row):
    refused = proxies["refused"]
    with pytest.raises(openai.AuthenticationError) as caught:
        client(refused).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "Access denied" in caught.value.message
    assert usage_row(refused.proxy).status_code == 401


def test_a_response_records_its_usage_and_cost(proxies, upstream, usage_row):
    azure = proxies["azure"]
    response = client(azure).responses.create(
        model="gpt-4o-mini", input="Hello", extra_headers={"x-fake-cached-tokens": "6"}
    )
    assert response.usage.input_tokens_details.cached_tokens == 6
    assert the_request(upstream)["path"] == "/openai/responses"
    row = usage_row(azure.proxy)
    # gpt-4o-mini: $0.15 per million input tokens, $0.075 cached, $0.60 output.
    assert (*tokens(row), row.cached_tokens) == (16, 3, 19, 6)
    assert float(row.cost_usd) == pytest.approx((10 * 0.15 + 6 * 0.075 + 3 * 0.60) / 1e6)


def test_a_streamed_response_records_the_usage_of_response_completed(proxies, upstream, usage_row):
    azure = proxies["azure"]
    with client(azure).responses.stream(model="gpt-4o-mini", input="Hello") as stream:
        stream.get_final_response()
    row = usage_row(azure.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)
