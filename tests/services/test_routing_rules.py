"""Routing policies and the rest of the configuration: failover targets are providers of the
same wire format, one routing policy of each kind per proxy, providers named as targets stay."""

import pytest

from core.errors import ValidationFailed
from guardrails.errors import RoutingPolicyExists
from guardrails.services import attachment_create, attachment_update
from proxies import services
from proxies.errors import ProviderInUse
from tests.factories import ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def proxy():
    return ProxyFactory(name="Chat", provider=ProviderFactory(name="Primary"))


@pytest.fixture
def backup():
    return ProviderFactory(name="Backup", template="openai")


@pytest.fixture
def claude():
    return ProviderFactory(name="Claude", template="anthropic")


def failover(targets: list[dict], **owner):
    return attachment_create(policy="provider-failover", params={"targets": targets}, **owner)


def refusal(error) -> list[dict[str, str]]:
    return error.value.errors


def test_a_provider_of_the_same_wire_format_is_a_target(proxy, backup):
    attachment = failover([{"provider": backup.slug}], proxy=proxy)
    assert attachment.params["targets"] == [{"provider": "backup"}]


def test_an_unknown_provider_is_refused_on_its_row(proxy, backup):
    with pytest.raises(ValidationFailed) as error:
        failover([{"provider": backup.slug}, {"provider": "nowhere"}], proxy=proxy)
    assert refusal(error) == [
        {"field": "params.targets.1.provider", "message": "Unknown provider 'nowhere'."}
    ]


def test_a_provider_of_another_wire_format_is_refused(proxy, claude):
    with pytest.raises(ValidationFailed) as error:
        failover([{"provider": claude.slug}], proxy=proxy)
    assert "speaks the anthropic API, not the openai API" in refusal(error)[0]["message"]


def test_the_proxys_own_provider_without_a_model_is_refused(proxy):
    with pytest.raises(ValidationFailed) as error:
        failover([{"provider": proxy.provider.slug}], proxy=proxy)
    assert "own provider" in refusal(error)[0]["message"]


def test_the_proxys_own_provider_with_another_model_is_a_target(proxy):
    target = {"provider": proxy.provider.slug, "model": "small-model"}
    assert failover([target], proxy=proxy).params["targets"] == [target]


def test_attached_to_a_provider_targets_speak_that_providers_format(claude):
    other = ProviderFactory(name="Claude Two", template="anthropic")
    attachment = failover([{"provider": other.slug}], provider=claude)
    assert attachment.provider == claude


def test_a_second_failover_on_one_proxy_is_a_conflict(proxy, backup):
    failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(RoutingPolicyExists):
        failover([{"provider": backup.slug}], proxy=proxy)


def test_a_proxy_whose_provider_has_a_failover_cannot_add_its_own(proxy, backup):
    failover([{"provider": backup.slug}], provider=proxy.provider)
    with pytest.raises(RoutingPolicyExists):
        failover([{"provider": backup.slug}], proxy=proxy)


def test_a_provider_whose_proxy_has_a_failover_cannot_add_one(proxy, backup):
    failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(RoutingPolicyExists):
        failover([{"provider": backup.slug}], provider=proxy.provider)


def test_both_round_robins_on_one_proxy_are_a_conflict(proxy):
    attachment_create(policy="model-round-robin", params={"models": [{"model": "a"}]}, proxy=proxy)
    with pytest.raises(RoutingPolicyExists):
        attachment_create(
            policy="model-weighted-round-robin",
            params={"models": [{"model": "a", "weight": 1}]},
            proxy=proxy,
        )


def test_a_round_robin_and_a_failover_go_together(proxy, backup):
    attachment_create(policy="model-round-robin", params={"models": [{"model": "a"}]}, proxy=proxy)
    assert failover([{"provider": backup.slug}], proxy=proxy).pk


def test_editing_a_failovers_targets_checks_them_again(proxy, backup, claude):
    attachment = failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(ValidationFailed):
        attachment_update(attachment=attachment, params={"targets": [{"provider": claude.slug}]})


def test_editing_a_failover_does_not_conflict_with_itself(proxy, backup):
    attachment = failover([{"provider": backup.slug}], proxy=proxy)
    edited = attachment_update(
        attachment=attachment, params={"targets": [{"provider": backup.slug}], "maxAttempts": 5}
    )
    assert edited.params["maxAttempts"] == 5


def test_deleting_a_provider_named_as_a_target_is_refused(proxy, backup):
    failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(ProviderInUse) as error:
        services.provider_delete(provider=backup)
    assert "failover target of proxy chat" in error.value.message


def test_moving_a_proxy_to_a_provider_its_targets_cannot_stand_in_for_is_refused(
    proxy, backup, claude
):
    failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(ValidationFailed) as error:
        services.proxy_update(proxy=proxy, provider=claude)
    assert refusal(error)[0]["field"] == "provider"


def test_moving_a_proxy_to_a_provider_with_the_same_kind_of_policy_is_refused(proxy, backup):
    other = ProviderFactory(name="Other")
    failover([{"provider": backup.slug}], provider=other)
    failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(ValidationFailed):
        services.proxy_update(proxy=proxy, provider=other)


PII = {"email": True}
WORDS = {"request": {"max": 1000}}


def test_a_provider_with_policies_of_its_own_is_refused_as_a_target(proxy, backup):
    attachment_create(policy="pii-masking-regex", params=PII, provider=backup)
    with pytest.raises(ValidationFailed) as error:
        failover([{"provider": backup.slug}], proxy=proxy)
    (problem,) = refusal(error)
    assert problem["field"] == "params.targets.0.provider"
    assert "has policies of its own (pii-masking-regex)" in problem["message"]


def test_a_targets_disabled_policies_and_routing_policies_do_not_count(proxy, backup):
    attachment_create(policy="pii-masking-regex", params=PII, provider=backup, enabled=False)
    attachment_create(
        policy="model-round-robin", params={"models": [{"model": "a"}]}, provider=backup
    )
    assert failover([{"provider": backup.slug}], proxy=proxy).pk


def test_a_policy_on_a_provider_named_as_a_target_is_refused(proxy, backup):
    failover([{"provider": backup.slug}], proxy=proxy)
    with pytest.raises(ValidationFailed) as error:
        attachment_create(policy="pii-masking-regex", params=PII, provider=backup)
    assert "failover target of proxy 'chat'" in error.value.message
    disabled = attachment_create(
        policy="pii-masking-regex", params=PII, provider=backup, enabled=False
    )
    with pytest.raises(ValidationFailed):
        attachment_update(attachment=disabled, enabled=True)
    assert attachment_create(policy="pii-masking-regex", params=PII, proxy=proxy).pk


def test_the_proxys_own_provider_with_policies_is_a_target_for_another_model(proxy):
    attachment_create(policy="pii-masking-regex", params=PII, provider=proxy.provider)
    target = [{"provider": proxy.provider.slug, "model": "smaller"}]
    assert failover(target, proxy=proxy).pk
    assert attachment_create(policy="word-count-guardrail", params=WORDS, provider=proxy.provider)


def test_a_custom_template_cannot_change_the_wire_format_of_a_failover_target(proxy):
    template = services.template_create(
        slug="acme", display_name="Acme", adapter="openai-compatible"
    )
    acme = ProviderFactory(name="Acme", template="acme", upstream_url="https://llm.acme.example")
    failover([{"provider": acme.slug}], proxy=proxy)
    with pytest.raises(ValidationFailed) as error:
        services.template_update(template=template, adapter="anthropic")
    (problem,) = refusal(error)
    assert problem["field"] == "adapter"
    assert "speaks the anthropic API, not the openai API" in problem["message"]
    template.refresh_from_db()
    assert template.adapter == "openai-compatible"
    assert services.template_update(template=template, adapter="mistral").adapter == "mistral"
