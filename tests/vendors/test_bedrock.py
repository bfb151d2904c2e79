"""The AWS Bedrock template driven by the official ``boto3`` ``bedrock-runtime`` client:
Converse plain and streamed, InvokeModel plain and streamed (Anthropic's body), with the
caller's key as a Bedrock API key. boto3 sends a bearer token only over HTTPS, so these calls
reach a gateway served over TLS."""

import json

import pytest
from botocore.exceptions import ClientError

from gateways.fake_upstream.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.vendors.conftest import assert_upstream_auth, deploy_proxies, the_request

CREDENTIAL = "ABSKQmVkcm9ja0FQSUtleS1mYWtl"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Hello"}]}]
ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hello"}],
}


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_tls_gateway):
    url = fake_upstream.url
    keys = {
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
        "region": "us-east-1",
    }
    return deploy_proxies(
        start_tls_gateway,
        "bedrock edge",
        bedrock={"template": "aws-bedrock", "upstream_url": url, "credential": CREDENTIAL},
        signing={"template": "aws-bedrock", "upstream_url": url, "credential": json.dumps(keys)},
        refused={"template": "aws-bedrock", "upstream_url": url, "credential": "invalid-key"},
    )


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def converse_stream_text(response) -> tuple[str, dict]:
    """The text and the metadata usage of a ConverseStream answer."""
    text, usage = "", {}
    for event in response["stream"]:
        if "contentBlockDelta" in event:
            text += event["contentBlockDelta"]["delta"]["text"]
        if "metadata" in event:
            usage = event["metadata"]["usage"]
    return text, usage


def invoke_stream_text(response) -> str:
    text = ""
    for event in response["body"]:
        chunk = json.loads(event["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta":
            text += chunk["delta"]["text"]
    return text


def test_converse_reaches_bedrock_with_the_gateway_credential(
    proxies, upstream, usage_row, bedrock_client
):
    bedrock = proxies["bedrock"]
    response = bedrock_client(bedrock).converse(modelId=MODEL, messages=MESSAGES)
    assert response["output"]["message"]["content"][0]["text"] == "echo: Hello"
    received = the_request(upstream)
    assert received["raw_path"] == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert_upstream_auth(received, "authorization", f"Bearer {CREDENTIAL}", bedrock.key)
    row = usage_row(bedrock.proxy)
    assert (row.model, *tokens(row)) == (MODEL, 10, 3, 13)


def test_converse_stream_relays_the_event_stream(proxies, upstream, usage_row, bedrock_client):
    bedrock = proxies["bedrock"]
    response = bedrock_client(bedrock).converse_stream(modelId=MODEL, messages=MESSAGES)
    text, usage = converse_stream_text(response)
    assert (text, usage["inputTokens"]) == ("chunk0 chunk1 chunk2 ", 10)
    assert_upstream_auth(
        the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", bedrock.key
    )
    assert usage_row(bedrock.proxy).streamed is True


def test_converse_stream_records_the_usage_of_its_metadata_event(
    proxies, upstream, usage_row, bedrock_client
):
    bedrock = proxies["bedrock"]
    converse_stream_text(bedrock_client(bedrock).converse_stream(modelId=MODEL, messages=MESSAGES))
    assert tokens(usage_row(bedrock.proxy)) == (10, 3, 13)


def test_invoke_model_reaches_bedrock_with_the_gateway_credential(
    proxies, upstream, usage_row, bedrock_client
):
    bedrock = proxies["bedrock"]
    response = bedrock_client(bedrock).invoke_model(modelId=MODEL, body=json.dumps(ANTHROPIC_BODY))
    assert json.loads(response["body"].read())["content"][0]["text"] == "echo: Hello"
    assert_upstream_auth(
        the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", bedrock.key
    )
    assert usage_row(bedrock.proxy).status_code == 200


def test_invoke_model_records_its_usage(proxies, upstream, usage_row, bedrock_client):
    bedrock = proxies["bedrock"]
    bedrock_client(bedrock).invoke_model(modelId=MODEL, body=json.dumps(ANTHROPIC_BODY))
    assert tokens(usage_row(bedrock.proxy)) == (10, 3, 13)


def test_invoke_model_with_response_stream_relays_the_event_stream(
    proxies, upstream, usage_row, bedrock_client
):
    bedrock = proxies["bedrock"]
    response = bedrock_client(bedrock).invoke_model_with_response_stream(
        modelId=MODEL, body=json.dumps(ANTHROPIC_BODY)
    )
    assert invoke_stream_text(response) == "chunk0 chunk1 chunk2 "
    assert usage_row(bedrock.proxy).streamed is True


def test_invoke_model_with_response_stream_records_its_usage(
    proxies, upstream, usage_row, bedrock_client
):
    bedrock = proxies["bedrock"]
    response = bedrock_client(bedrock).invoke_model_with_response_stream(
        modelId=MODEL, body=json.dumps(ANTHROPIC_BODY)
    )
    invoke_stream_text(response)
    assert tokens(usage_row(bedrock.proxy)) == (10, 3, 13)


def test_cache_reads_reach_the_usage_row(proxies, upstream, usage_row, bedrock_client):
    bedrock = proxies["bedrock"]
    sdk = bedrock_client(bedrock)
    sdk.meta.events.register(
        "before-send.bedrock-runtime.Converse",
        lambda request, **kwargs: request.headers.__setitem__("x-fake-cached-tokens", "6"),
    )
    response = sdk.converse(modelId=MODEL, messages=MESSAGES)
    assert response["usage"]["cacheReadInputTokens"] == 6
    assert usage_row(bedrock.proxy).cached_tokens == 6


def test_usage_row_carries_the_cost_from_the_price_table(
    proxies, upstream, usage_row, bedrock_client
):
    bedrock = proxies["bedrock"]
    bedrock_client(bedrock).converse(modelId=MODEL, messages=MESSAGES)
    # claude-3-haiku: $0.25 per million input tokens, $1.25 per million output tokens.
    expected = (10 * 0.25 + 3 * 1.25) / 1_000_000
    assert float(usage_row(bedrock.proxy).cost_usd) == pytest.approx(expected)


def test_access_keys_sign_the_upstream_call_with_sigv4(
    proxies, upstream, usage_row, bedrock_client
):
    signing = proxies["signing"]
    response = bedrock_client(signing).converse(modelId=MODEL, messages=MESSAGES)
    usage_row(signing.proxy)
    assert response["output"]["message"]["content"][0]["text"] == "echo: Hello"
    authorization = the_request(upstream)["headers"]["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")


def test_upstream_refusing_the_credential_raises_a_client_error(
    proxies, upstream, usage_row, bedrock_client
):
    refused = proxies["refused"]
    with pytest.raises(ClientError) as caught:
        bedrock_client(refused).converse(modelId=MODEL, messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert usage_row(refused.proxy).status_code == 403
