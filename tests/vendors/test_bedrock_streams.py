"""Response guardrails on Bedrock's AWS event streams (ConverseStream and
InvokeModelWithResponseStream), driven by boto3's ``bedrock-runtime`` client: placeholders a
PII guardrail put in the request restored across frames, a word-count guardrail ending a stream
with an error the SDK raises, a stream the upstream broke off ending with one too, and frames
no guardrail changed relayed byte for byte."""

import json
import ssl

import httpx
import pytest
from botocore.exceptions import EventStreamError

from tests.gateway.guardrail_world import echo, reply
from tests.vendors.conftest import deploy_proxies

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TEXT = "Write to jane.doe@example.com today"


def guarded(url: str, policy: str, params: dict) -> dict:
    return {
        "template": "aws-bedrock",
        "upstream_url": url,
        "credential": "ABSKQmVkcm9ja0FQSUtleS1mYWtl",
        "guardrails": [(policy, params)],
    }


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_tls_gateway):
    url = fake_upstream.url
    return deploy_proxies(
        start_tls_gateway,
        "bedrock streams edge",
        pii=guarded(url, "pii-masking-regex", {"email": True}),
        words=guarded(
            url, "word-count-guardrail", {"response": {"enabled": True, "min": 0, "max": 3}}
        ),
    )


def converse_stream_text(sdk, text: str) -> str:
    messages = [{"role": "user", "content": [{"text": text}]}]
    response = sdk.converse_stream(modelId=MODEL, messages=messages)
    return "".join(
        event["contentBlockDelta"]["delta"]["text"]
        for event in response["stream"]
        if "contentBlockDelta" in event
    )


def invoke_stream_text(sdk, text: str) -> str:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
    }
    response = sdk.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(body))
    streamed = ""
    for event in response["body"]:
        chunk = json.loads(event["chunk"]["bytes"])
        if chunk["type"] == "content_block_delta":
            streamed += chunk["delta"]["text"]
    return streamed


def test_converse_stream_restores_placeholders_split_across_frames(
    proxies, upstream, bedrock_client, usage_row
):
    streamed = converse_stream_text(bedrock_client(proxies["pii"], **echo(3)), TEXT)
    usage_row(proxies["pii"].proxy)
    assert "[EMAIL_0000]" in upstream.received()[0]["body"]
    assert streamed == TEXT


def test_invoke_stream_restores_placeholders_in_the_models_chunks(
    proxies, upstream, bedrock_client, usage_row
):
    streamed = invoke_stream_text(bedrock_client(proxies["pii"], **echo(3)), TEXT)
    usage_row(proxies["pii"].proxy)
    assert "jane.doe@example.com" not in upstream.received()[0]["body"]
    assert streamed == TEXT


def test_a_guarded_stream_records_its_usage(proxies, upstream, bedrock_client, usage_row):
    converse_stream_text(bedrock_client(proxies["pii"]), "Hello")
    row = usage_row(proxies["pii"].proxy)
    assert (row.streamed, row.prompt_tokens, row.completion_tokens) == (True, 10, 3)


def test_word_count_stops_a_converse_stream_with_an_error_the_sdk_raises(
    proxies, upstream, bedrock_client, usage_row
):
    sdk = bedrock_client(proxies["words"], **reply("one two three four five six", 4))
    with pytest.raises(EventStreamError) as caught:
        converse_stream_text(sdk, "Hello")
    usage_row(proxies["words"].proxy)
    assert caught.value.response["Error"]["Code"] == "validationException"
    assert "word-count-guardrail" in str(caught.value)


def test_word_count_stops_an_invoke_stream_with_an_error_the_sdk_raises(
    proxies, upstream, bedrock_client, usage_row
):
    sdk = bedrock_client(proxies["words"], **reply("one two three four five six", 4))
    with pytest.raises(EventStreamError):
        invoke_stream_text(sdk, "Hello")
    assert usage_row(proxies["words"].proxy).reason == "guardrail_intervened"


def test_frames_no_guardrail_changed_go_out_byte_for_byte(proxies, upstream, usage_row):
    deployed = proxies["pii"]
    path = f"/model/{MODEL}/converse-stream"
    body = {"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}
    trust = ssl.create_default_context(cafile=str(deployed.server.certificate.cert))
    through = httpx.post(
        deployed.url + path,
        headers={"Authorization": f"Bearer {deployed.key}"},
        json=body,
        verify=trust,
        timeout=30,
    )
    direct = httpx.post(
        upstream.url + path,
        headers={"Authorization": f"Bearer {deployed.credential}"},
        json=body,
        timeout=30,
    )
    usage_row(deployed.proxy)
    assert through.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert through.content == direct.content


def test_a_stream_the_upstream_broke_off_ends_with_an_error_the_sdk_raises(
    proxies, upstream, bedrock_client, usage_row
):
    sdk = bedrock_client(proxies["pii"], **{"x-fake-mode": "drop"})
    with pytest.raises(EventStreamError) as caught:
        converse_stream_text(sdk, "Hello")
    assert caught.value.response["Error"]["Code"] == "internalServerException"
    assert usage_row(proxies["pii"].proxy).reason == "upstream_disconnected"
