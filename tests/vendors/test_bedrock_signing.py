"""Bedrock upstream calls signed with SigV4 for each form of AWS credential (access keys, a
session token, an assumed role, the gateway host's credential chain), driven by boto3's
``bedrock-runtime`` client with a Bedrock API key for the gateway. The fake upstream verifies
every signature with botocore, and plays STS (``AWS_ENDPOINT_URL_STS`` in the gateway's
environment) for the assumed roles."""

from urllib.parse import parse_qs

import httpx
import pytest
from botocore.exceptions import ClientError

from gateways.fake_upstream.bedrock import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    SESSION_TOKEN,
    TEMPORARY_ACCESS_KEY_ID,
    TEMPORARY_SECRET_ACCESS_KEY,
)
from tests.vendors.conftest import deploy_proxies

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Hello"}]}]
KEYS = {
    "aws_access_key_id": ACCESS_KEY_ID,
    "aws_secret_access_key": SECRET_ACCESS_KEY,
    "region": "us-east-1",
}
ROLE = "arn:aws:iam::123456789012:role/"
# The gateway host's AWS environment: no shared files, no instance metadata service.
HOST_ISOLATION = {
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_REGION": "us-east-1",
}


def bedrock(url: str, credential) -> dict:
    return {"template": "aws-bedrock", "upstream_url": url, "credential": credential}


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_tls_gateway):
    url = fake_upstream.url
    env = {
        **HOST_ISOLATION,
        "AWS_ENDPOINT_URL_STS": f"{url}/sts",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    session = {
        "aws_access_key_id": TEMPORARY_ACCESS_KEY_ID,
        "aws_secret_access_key": TEMPORARY_SECRET_ACCESS_KEY,
        "aws_session_token": SESSION_TOKEN,
        "region": "us-east-1",
    }
    return deploy_proxies(
        start_tls_gateway,
        "bedrock signing edge",
        env,
        keys=bedrock(url, KEYS),
        session=bedrock(url, session),
        role=bedrock(url, {**KEYS, "role_arn": f"{ROLE}bedrock-invoke", "external_id": "ext-42"}),
        reused=bedrock(url, {**KEYS, "role_arn": f"{ROLE}bedrock-reader"}),
        short=bedrock(url, {**KEYS, "role_arn": f"{ROLE}short-lived-invoke"}),
        host_role=bedrock(url, {"role_arn": f"{ROLE}bedrock-from-host", "region": "us-east-1"}),
        denied=bedrock(url, {**KEYS, "role_arn": f"{ROLE}denied-invoke"}),
        refused_twice=bedrock(url, {**KEYS, "role_arn": f"{ROLE}denied-twice"}),
        host=bedrock(url, ""),
        wrong=bedrock(url, {**KEYS, "aws_secret_access_key": "not-the-secret"}),
        guarded={**bedrock(url, KEYS), "guardrails": [("pii-masking-regex", {"email": True})]},
    )


def converse(sdk, text: str = "Hello") -> dict:
    messages = [{"role": "user", "content": [{"text": text}]}]
    return sdk.converse(modelId=MODEL, messages=messages)


def bedrock_calls(upstream) -> list[dict]:
    return [r for r in upstream.received() if "/model/" in r["path"]]


def sts_calls(upstream) -> list[dict]:
    return [r for r in upstream.received() if r["path"].startswith("/sts")]


def signed_with(received: dict) -> str:
    """The access key ID a request's SigV4 ``Authorization`` names."""
    authorization = received["headers"]["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    return authorization.split("Credential=")[1].split("/")[0]


def test_access_keys_sign_for_bedrock_in_the_credentials_region(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["keys"]
    assert (
        converse(bedrock_client(deployed))["output"]["message"]["content"][0]["text"]
        == "echo: Hello"
    )
    usage_row(deployed.proxy)
    (received,) = bedrock_calls(upstream)
    scope = received["headers"]["authorization"].split("Credential=")[1].split(",")[0]
    assert scope.split("/")[2:] == ["us-east-1", "bedrock", "aws4_request"]
    assert deployed.key not in str(received)


def test_a_session_token_travels_signed_beside_its_temporary_keys(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["session"]
    converse(bedrock_client(deployed))
    usage_row(deployed.proxy)
    (received,) = bedrock_calls(upstream)
    assert signed_with(received) == TEMPORARY_ACCESS_KEY_ID
    assert received["headers"]["x-amz-security-token"] == SESSION_TOKEN
    assert "x-amz-security-token" in received["headers"]["authorization"]


def test_an_assumed_role_signs_with_the_credentials_sts_gave(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["role"]
    converse(bedrock_client(deployed))
    usage_row(deployed.proxy)
    (assume,) = sts_calls(upstream)
    form = {name: values[0] for name, values in parse_qs(assume["body"]).items()}
    assert (form["RoleArn"], form["ExternalId"]) == (f"{ROLE}bedrock-invoke", "ext-42")
    assert signed_with(assume) == ACCESS_KEY_ID
    assert signed_with(bedrock_calls(upstream)[0]) == TEMPORARY_ACCESS_KEY_ID


def test_an_assumed_role_is_fetched_once_for_many_calls(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["reused"]
    sdk = bedrock_client(deployed)
    for _ in range(3):
        converse(sdk)
    assert len(bedrock_calls(upstream)) == 3
    assert len(sts_calls(upstream)) == 1


def test_credentials_inside_their_refresh_window_are_refreshed_before_use(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["short"]
    sdk = bedrock_client(deployed)
    converse(sdk)
    converse(sdk)
    assert len(sts_calls(upstream)) == 2
    assert [signed_with(r) for r in bedrock_calls(upstream)] == [TEMPORARY_ACCESS_KEY_ID] * 2


def test_a_role_without_keys_is_assumed_with_the_hosts_credentials(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["host_role"]
    converse(bedrock_client(deployed))
    (assume,) = sts_calls(upstream)
    assert signed_with(assume) == ACCESS_KEY_ID
    assert signed_with(bedrock_calls(upstream)[0]) == TEMPORARY_ACCESS_KEY_ID


def test_a_role_that_cannot_be_assumed_is_a_bad_gateway(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["denied"]
    with pytest.raises(ClientError) as caught:
        converse(bedrock_client(deployed))
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert caught.value.response["Error"]["Code"] == "upstream_credentials_unavailable"
    assert bedrock_calls(upstream) == []
    assert usage_row(deployed.proxy).status_code == 502


def test_a_refused_role_is_not_asked_for_again_at_once(proxies, upstream, bedrock_client):
    sdk = bedrock_client(proxies["refused_twice"])
    for _ in range(2):
        with pytest.raises(ClientError):
            converse(sdk)
    assert len(sts_calls(upstream)) == 1


def test_no_credential_signs_with_the_gateway_hosts_environment(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["host"]
    converse(bedrock_client(deployed))
    usage_row(deployed.proxy)
    assert signed_with(bedrock_calls(upstream)[0]) == ACCESS_KEY_ID


def test_a_wrong_secret_gets_the_upstreams_403_in_bedrocks_shape(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["wrong"]
    with pytest.raises(ClientError) as caught:
        converse(bedrock_client(deployed))
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "signature we calculated does not match" in caught.value.response["Error"]["Message"]
    assert usage_row(deployed.proxy).status_code == 403


def test_the_signature_covers_the_body_a_guardrail_rewrote(
    proxies, upstream, usage_row, bedrock_client
):
    deployed = proxies["guarded"]
    response = converse(bedrock_client(deployed), "Write to jane.doe@example.com")
    assert (
        response["output"]["message"]["content"][0]["text"] == "echo: Write to jane.doe@example.com"
    )
    (received,) = bedrock_calls(upstream)
    assert "[EMAIL_0000]" in received["body"]
    assert signed_with(received) == ACCESS_KEY_ID


def test_without_host_credentials_a_call_is_a_bad_gateway_that_says_why(
    committed, fake_upstream, upstream, start_gateway, usage_row
):
    bare = deploy_proxies(
        start_gateway,
        "bedrock bare host",
        {**HOST_ISOLATION, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        bare=bedrock(fake_upstream.url, ""),
    )["bare"]
    response = httpx.post(
        f"{bare.url}/model/{MODEL}/converse",
        headers={"Authorization": f"Bearer {bare.key}"},
        json={"messages": MESSAGES},
        timeout=30,
    )
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_credentials_unavailable"
    assert "credential chain" in response.json()["message"]
    assert bedrock_calls(upstream) == []
