"""attach_guardrail with routing policies: attached like any policy, refused in one line."""

import json

import pytest
from django.core.management.base import CommandError

from guardrails.models import GuardrailAttachment
from tests.factories import ProviderFactory, ProxyFactory


@pytest.fixture
def proxy(db):
    return ProxyFactory(name="Chat", provider=ProviderFactory(name="Primary"))


def failover(manage, owner: list[str], targets: list[dict]) -> str:
    params = json.dumps({"targets": targets})
    out, _ = manage("attach_guardrail", *owner, "--policy", "provider-failover", "--params", params)
    return out.strip()


def test_a_failover_is_attached_to_a_proxy(manage, proxy):
    backup = ProviderFactory(name="Backup")
    pk = failover(manage, ["chat"], [{"provider": backup.slug}])
    assert GuardrailAttachment.objects.get(pk=pk).params["maxAttempts"] == 3


def test_a_failover_is_attached_to_a_provider(manage, proxy):
    backup = ProviderFactory(name="Backup")
    pk = failover(manage, ["--provider", "primary"], [{"provider": backup.slug}])
    assert GuardrailAttachment.objects.get(pk=pk).provider == proxy.provider


def test_a_round_robin_is_attached(manage, proxy):
    params = json.dumps({"models": [{"model": "a"}, {"model": "b"}]})
    out, _ = manage("attach_guardrail", "chat", "--policy", "model-round-robin", "--params", params)
    assert GuardrailAttachment.objects.get(pk=out.strip()).policy == "model-round-robin"


def test_a_target_of_another_wire_format_fails_in_one_line(manage, proxy):
    claude = ProviderFactory(name="Claude", template="anthropic")
    with pytest.raises(CommandError) as error:
        failover(manage, ["chat"], [{"provider": claude.slug}])
    assert "anthropic API" in str(error.value) and "\n" not in str(error.value)


def test_a_second_failover_fails(manage, proxy):
    backup = ProviderFactory(name="Backup")
    failover(manage, ["chat"], [{"provider": backup.slug}])
    with pytest.raises(CommandError, match="already has a provider failover policy"):
        failover(manage, ["chat"], [{"provider": backup.slug}])
