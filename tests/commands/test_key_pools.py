"""Key pools on the command line: a variable holding one key per line, or a JSON list."""

import json

import pytest
from django.core.management.base import CommandError

from proxies import crypto
from proxies.key_pool import credential_value
from proxies.models import Provider
from tests.factories import ProviderFactory

KEYS = ["sk-pool-first-1111", "sk-pool-second-2222", "sk-pool-third-3333"]


def stored(slug: str):
    return credential_value(crypto.decrypt(Provider.objects.get(slug=slug).credential_ciphertext))


def create(manage, variable: str) -> str:
    out, _ = manage(
        "create_provider", "--name", "Pooled", "--template", "openai", "--credential-env", variable
    )
    return out.strip()


def test_one_key_per_line_makes_a_pool(manage, monkeypatch):
    monkeypatch.setenv("POOL", "\n".join(KEYS) + "\n")
    assert stored(create(manage, "POOL")) == KEYS


def test_a_json_list_makes_a_pool(manage, monkeypatch):
    monkeypatch.setenv("POOL", json.dumps(KEYS))
    assert stored(create(manage, "POOL")) == KEYS


def test_a_pool_rotates_a_credential(manage, monkeypatch):
    provider = ProviderFactory(credential="sk-old")
    monkeypatch.setenv("POOL", "\n".join(KEYS))
    manage("set_provider_credential", provider.slug, "--credential-env", "POOL")
    assert stored(provider.slug) == KEYS


def test_a_repeated_key_fails_without_printing_it(manage, monkeypatch):
    monkeypatch.setenv("POOL", "sk-twice-9999\nsk-twice-9999")
    with pytest.raises(CommandError) as error:
        create(manage, "POOL")
    assert "already in the pool" in str(error.value)
    assert "sk-twice-9999" not in str(error.value)


def test_a_broken_json_list_fails_in_one_line(manage, monkeypatch):
    monkeypatch.setenv("POOL", '["sk-a", ')
    with pytest.raises(CommandError, match="not valid JSON"):
        create(manage, "POOL")


def test_an_aws_credential_object_over_several_lines_is_not_a_pool(manage, monkeypatch):
    keys = {"aws_access_key_id": "AKIAEXAMPLEKEY123456", "aws_secret_access_key": "secret"}
    monkeypatch.setenv("AWS_KEYS", json.dumps(keys, indent=2))
    out, _ = manage(
        "create_provider",
        "--name",
        "Bedrock",
        "--template",
        "aws-bedrock",
        "--upstream-url",
        "https://bedrock-runtime.eu-west-1.amazonaws.com",
        "--credential-env",
        "AWS_KEYS",
    )
    assert json.loads(stored(out.strip())) == keys


def test_list_providers_says_how_many_keys_a_pool_holds(manage):
    ProviderFactory(name="Pooled", credential=KEYS)
    out, _ = manage("list_providers")
    assert "3 keys" in out
