"""A provider's credential as a key pool through the API: several keys, stored encrypted,
counted, never shown back."""

import pytest

from proxies import crypto
from proxies.key_pool import credential_value
from proxies.models import Provider
from tests.api import expect

URL = "/api/v1/providers/"
KEYS = ["sk-pool-first-1111", "sk-pool-second-2222", "sk-pool-third-3333"]

pytestmark = pytest.mark.django_db


def create(api, credential):
    return api.post(URL, {"name": "Pooled", "template": "openai", "credential": credential}, "json")


def stored(slug: str):
    return credential_value(crypto.decrypt(Provider.objects.get(slug=slug).credential_ciphertext))


def test_a_list_of_keys_is_stored_as_a_pool(api):
    slug = expect.created(create(api, KEYS))["id"]
    assert stored(slug) == KEYS


def test_the_response_counts_the_keys_without_showing_them(api):
    response = create(api, KEYS)
    assert response.json()["credential_keys"] == 3
    assert not any(key in response.content.decode() for key in KEYS)


def test_a_single_key_counts_as_one(api):
    assert create(api, "sk-single-key").json()["credential_keys"] == 1


def test_a_pool_of_one_key_is_stored_as_that_key(api):
    slug = create(api, ["sk-lonely-key"]).json()["id"]
    assert stored(slug) == "sk-lonely-key"


def test_an_empty_pool_is_refused(api):
    expect.error(create(api, []), 400, field="credential")


def test_more_than_twenty_keys_are_refused(api):
    expect.error(create(api, [f"sk-key-{n}" for n in range(21)]), 400, field="credential")


def test_a_blank_key_is_refused_on_its_position(api):
    expect.error(create(api, ["sk-good-key", " "]), 400, field="credential[1]")


def test_a_key_that_is_not_a_string_is_refused_on_its_position(api):
    expect.error(create(api, ["sk-good-key", 42]), 400, field="credential[1]")


def test_a_repeated_key_is_refused_without_echoing_it(api):
    response = create(api, ["sk-twice-9999", "sk-twice-9999"])
    expect.error(response, 400, field="credential[1]")
    assert "sk-twice-9999" not in response.content.decode()


def test_a_pool_replaces_a_single_key(api):
    slug = create(api, "sk-single-key").json()["id"]
    response = api.patch(f"{URL}{slug}/", {"credential": KEYS}, "json")
    assert response.json()["credential_keys"] == 3
    assert stored(slug) == KEYS


def test_an_aws_bedrock_provider_takes_a_pool_of_bedrock_api_keys(api):
    body = api.post(
        URL,
        {
            "name": "Bedrock",
            "template": "aws-bedrock",
            "upstream_url": "https://bedrock-runtime.eu-west-1.amazonaws.com",
            "credential": ["ABSK-first-key", "ABSK-second-key"],
        },
        "json",
    ).json()
    assert body["credential_keys"] == 2
