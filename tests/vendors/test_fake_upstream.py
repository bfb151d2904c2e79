"""The fake upstream itself, called directly: each vendor's credential check and error shape,
and Bedrock's SigV4 verification over the request as received."""

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gateways.fake_upstream.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}]}
CONVERSE = [{"role": "user", "content": [{"text": "Hello"}]}]


def bedrock(upstream, key_id: str = ACCESS_KEY_ID, secret: str = SECRET_ACCESS_KEY):
    """A bedrock-runtime client signing its calls to the fake with SigV4."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=upstream.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_openai_without_a_key_answers_401_in_openai_shape(upstream):
    response = httpx.post(f"{upstream.url}/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_anthropic_without_a_version_answers_400(upstream):
    response = httpx.post(
        f"{upstream.url}/v1/messages", headers={"x-api-key": "k"}, json={**CHAT, "max_tokens": 5}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "anthropic-version: header is required"


def test_azure_deployment_without_an_api_version_answers_404(upstream):
    response = httpx.post(
        f"{upstream.url}/openai/deployments/d/chat/completions", headers={"api-key": "k"}, json=CHAT
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "404")


def test_gemini_without_a_key_answers_403_permission_denied(upstream):
    response = httpx.post(
        f"{upstream.url}/v1/models/gemini-2.0-flash:generateContent",
        json={"contents": [{"parts": [{"text": "Hello"}]}]},
    )
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_mistral_refuses_fields_it_does_not_know_with_422(upstream):
    response = httpx.post(
        f"{upstream.url}/mistral/v1/chat/completions",
        headers={"Authorization": "Bearer k"},
        json={**CHAT, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert response.status_code == 422
    assert response.json()["message"]["detail"][0]["loc"] == ["body", "stream_options"]


def test_bedrock_takes_a_sigv4_signature_made_with_its_test_keys(upstream):
    response = bedrock(upstream).converse(modelId="anthropic.claude-v2:1", messages=CONVERSE)
    assert response["output"]["message"]["content"][0]["text"] == "echo: Hello"
    assert upstream.received()[0]["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_bedrock_refuses_a_signature_made_with_another_secret(upstream):
    with pytest.raises(ClientError) as caught:
        bedrock(upstream, secret="not-the-secret").converse(modelId="m", messages=CONVERSE)
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_bedrock_refuses_an_unknown_access_key(upstream):
    with pytest.raises(ClientError) as caught:
        bedrock(upstream, key_id="AKIAUNKNOWNKEY000000").converse(modelId="m", messages=CONVERSE)
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_bedrock_refuses_a_body_changed_after_signing(upstream):
    def tamper(request, **kwargs):
        request.body = request.body.replace(b"Hello", b"Bye!!")

    sdk = bedrock(upstream)
    sdk.meta.events.register("before-send.bedrock-runtime.Converse", tamper)
    with pytest.raises(ClientError) as caught:
        sdk.converse(modelId="m", messages=CONVERSE)
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
