import pytest
from django.core.management.base import CommandError

from proxies import crypto
from proxies.models import Provider
from tests.factories import ProviderFactory


def test_prints_the_provider_id(manage):
    out, _ = manage(
        "create_provider",
        "--name",
        "Local vLLM",
        "--template",
        "openai-compatible",
        "--upstream-url",
        "http://127.0.0.1:9000/v1",
    )
    provider = Provider.objects.get()
    assert out == f"{provider.slug}\n" and provider.slug == "local-vllm"


def test_template_fills_in_the_upstream_url(manage):
    out, _ = manage("create_provider", "--name", "OpenAI prod", "--template", "openai")
    assert Provider.objects.get(slug=out.strip()).upstream_url == "https://api.openai.com/v1"


def test_credential_from_an_environment_variable_is_stored_encrypted(manage, monkeypatch):
    monkeypatch.setenv("UPSTREAM_KEY", "sk-from-env")
    out, _ = manage(
        "create_provider",
        "--name",
        "P1",
        "--template",
        "openai",
        "--credential-env",
        "UPSTREAM_KEY",
    )
    provider = Provider.objects.get(slug=out.strip())
    assert "sk-from-env" not in provider.credential_ciphertext
    assert crypto.decrypt(provider.credential_ciphertext) == "sk-from-env"


def test_credential_given_inline_is_accepted(manage):
    out, _ = manage("create_provider", "--name", "P2", "--template", "openai", "--credential", "sk")
    assert Provider.objects.get(slug=out.strip()).has_credential


def test_provider_without_credential_is_mentioned_on_stderr(manage):
    out, err = manage(
        "create_provider",
        "--name",
        "Ollama",
        "--template",
        "openai-compatible",
        "--upstream-url",
        "http://127.0.0.1:11434/v1",
    )
    assert "no upstream credential" in err and "\n" not in out.strip()


def test_unset_environment_variable_is_an_error(manage, monkeypatch):
    monkeypatch.delenv("MISSING_KEY", raising=False)
    with pytest.raises(CommandError, match="MISSING_KEY is not set"):
        manage(
            "create_provider",
            "--name",
            "P",
            "--template",
            "openai",
            "--credential-env",
            "MISSING_KEY",
        )


def test_unknown_template_is_an_error(manage):
    with pytest.raises(CommandError, match="No provider template 'nope'"):
        manage("create_provider", "--name", "P", "--template", "nope")


def test_missing_template_is_an_error(manage):
    with pytest.raises(CommandError, match="required: --template"):
        manage("create_provider", "--name", "P")


def test_both_credential_options_are_refused(manage):
    with pytest.raises(CommandError, match="not allowed with argument"):
        manage(
            "create_provider",
            "--name",
            "P",
            "--template",
            "openai",
            "--credential",
            "a",
            "--credential-env",
            "B",
        )


def test_duplicate_name_is_an_error(manage):
    ProviderFactory(name="Taken")
    with pytest.raises(CommandError, match="A provider named 'Taken' already exists"):
        manage(
            "create_provider",
            "--name",
            "Taken",
            "--template",
            "openai-compatible",
            "--upstream-url",
            "http://127.0.0.1:1/v1",
        )


def test_fixed_upstream_url_cannot_be_overridden(manage, fixed_template):
    with pytest.raises(CommandError, match="upstream URL is fixed"):
        manage(
            "create_provider",
            "--name",
            "P",
            "--template",
            fixed_template.slug,
            "--upstream-url",
            "http://example.com/v1",
        )


def test_nothing_is_created_when_it_fails(manage):
    with pytest.raises(CommandError):
        manage("create_provider", "--name", "P", "--template", "nope")
    assert not Provider.objects.exists()


def test_a_private_upstream_address_is_an_error(manage):
    with pytest.raises(CommandError, match=r"10\.0\.0\.5 is a loopback, link-local or private"):
        manage(
            "create_provider",
            "--name",
            "Inside",
            "--template",
            "openai-compatible",
            "--upstream-url",
            "http://10.0.0.5/v1",
        )
