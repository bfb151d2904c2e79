"""AWS Bedrock credentials on the command line: an object of AWS keys as JSON in the
environment variable ``--credential-env`` names, checked field by field."""

import json

import pytest
from django.core.management.base import CommandError

from proxies import crypto
from proxies.models import Provider

BEDROCK_URL = "https://bedrock-runtime.us-west-2.amazonaws.com"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SECRET}


def create_bedrock(manage, variable: str = "AWS_KEYS") -> str:
    out, _ = manage(
        "create_provider",
        "--name",
        "Bedrock",
        "--template",
        "aws-bedrock",
        "--upstream-url",
        BEDROCK_URL,
        "--credential-env",
        variable,
    )
    return out.strip()


def stored(slug: str) -> str:
    return crypto.decrypt(Provider.objects.get(slug=slug).credential_ciphertext)


def test_create_provider_takes_aws_keys_as_json(manage, monkeypatch):
    monkeypatch.setenv("AWS_KEYS", json.dumps(KEYS))
    assert json.loads(stored(create_bedrock(manage))) == KEYS


def test_set_provider_credential_rotates_to_aws_keys(manage, monkeypatch):
    monkeypatch.setenv("AWS_KEYS", "ABSKQmVkcm9ja0FQSUtleS1mYWtl")
    slug = create_bedrock(manage)
    monkeypatch.setenv("NEW_KEYS", json.dumps({**KEYS, "aws_session_token": "token"}))
    manage("set_provider_credential", slug, "--credential-env", "NEW_KEYS")
    assert json.loads(stored(slug))["aws_session_token"] == "token"


def test_a_malformed_object_fails_naming_the_field_and_not_the_secret(manage, monkeypatch):
    monkeypatch.setenv("AWS_KEYS", json.dumps({"aws_secret_access_key": SECRET}))
    with pytest.raises(CommandError, match=r"credential\.aws_access_key_id") as caught:
        create_bedrock(manage)
    assert SECRET not in str(caught.value)
    assert not Provider.objects.exists()


def test_json_that_is_not_an_object_fails_in_one_line(manage, monkeypatch):
    monkeypatch.setenv("AWS_KEYS", "{not json")
    with pytest.raises(CommandError, match="Not valid JSON") as caught:
        create_bedrock(manage)
    assert "\n" not in str(caught.value)
