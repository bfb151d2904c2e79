"""AWS Bedrock providers through the API: the credential may be an object of AWS keys, checked
field by field, stored encrypted as JSON and never returned."""

import json

from proxies import crypto
from proxies.models import Provider
from tests.api import expect

URL = "/api/v1/providers/"
BEDROCK_URL = "https://bedrock-runtime.eu-west-1.amazonaws.com"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SECRET}


def create(api, credential, upstream_url: str = BEDROCK_URL):
    payload = {"name": "Bedrock", "template": "aws-bedrock", "upstream_url": upstream_url}
    return api.post(URL, {**payload, "credential": credential}, "json")


def stored(slug: str) -> dict:
    return json.loads(crypto.decrypt(Provider.objects.get(slug=slug).credential_ciphertext))


def test_a_credential_object_is_accepted_and_stored_as_json(api):
    body = expect.created(create(api, {**KEYS, "role_arn": "arn:aws:iam::123456789012:role/r"}))
    assert stored(body["id"]) == {**KEYS, "role_arn": "arn:aws:iam::123456789012:role/r"}


def test_the_secret_of_a_credential_object_is_never_returned(api):
    response = create(api, KEYS)
    assert SECRET not in response.content.decode()
    assert response.json()["has_credential"] is True


def test_the_secret_of_a_credential_object_is_stored_encrypted(api):
    create(api, KEYS)
    assert SECRET not in Provider.objects.get().credential_ciphertext


def test_a_bedrock_api_key_is_still_a_string(api):
    body = expect.created(create(api, "ABSKQmVkcm9ja0FQSUtleS1mYWtl"))
    provider = Provider.objects.get(slug=body["id"])
    assert crypto.decrypt(provider.credential_ciphertext) == "ABSKQmVkcm9ja0FQSUtleS1mYWtl"


def test_no_credential_leaves_the_gateway_hosts_credentials_to_sign(api):
    body = expect.created(create(api, ""))
    assert body["has_credential"] is False


def test_a_secret_without_its_key_id_names_the_missing_field(api):
    response = create(api, {"aws_secret_access_key": SECRET})
    expect.error(response, 400, "VALIDATION_FAILED", "credential.aws_access_key_id")
    assert SECRET not in response.content.decode()


def test_an_unknown_field_is_named(api):
    response = create(api, {**KEYS, "aws_secret": "x"})
    expect.error(response, 400, "VALIDATION_FAILED", "credential.aws_secret")


def test_a_field_that_is_not_a_string_is_refused(api):
    response = create(api, {**KEYS, "region": 1})
    expect.error(response, 400, "VALIDATION_FAILED", "credential.region")


def test_a_malformed_role_arn_is_refused(api):
    response = create(api, {**KEYS, "role_arn": "my-role"})
    expect.error(response, 400, "VALIDATION_FAILED", "credential.role_arn")


def test_the_region_is_required_when_the_upstream_url_names_none(api):
    response = create(api, KEYS, upstream_url="https://bedrock.internal.example.com")
    expect.error(response, 400, "VALIDATION_FAILED", "credential.region")


def test_a_credential_object_for_another_provider_is_refused(api):
    payload = {"name": "OpenAI", "template": "openai", "credential": KEYS}
    expect.error(api.post(URL, payload, "json"), 400, "VALIDATION_FAILED", "credential")


def test_a_credential_that_is_neither_string_list_nor_object_is_refused(api):
    expect.error(create(api, 42), 400, field="credential")


def test_a_credential_object_rotates_a_providers_credential(api):
    slug = create(api, "ABSKQmVkcm9ja0FQSUtleS1mYWtl").json()["id"]
    response = api.patch(f"{URL}{slug}/", {"credential": KEYS}, "json")
    assert response.status_code == 200, response.content
    assert stored(slug) == KEYS
