import json

import pytest
from django.core.management.base import CommandError

from guardrails.models import GuardrailAttachment
from tests.factories import GuardrailFactory, ProviderFactory, ProxyFactory

WORD_COUNT = "word-count-guardrail"
PARAMS = json.dumps({"request": {"max": 50}})


def test_prints_the_attachment_id(manage):
    proxy = ProxyFactory()
    out, _ = manage("attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params", PARAMS)
    attachment = GuardrailAttachment.objects.get()
    assert out == f"{attachment.pk}\n" and attachment.proxy == proxy


def test_parameters_are_stored_with_defaults(manage):
    proxy = ProxyFactory()
    manage("attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params", PARAMS)
    assert GuardrailAttachment.objects.get().params["request"]["min"] == 0


def test_goes_to_the_end_of_the_chain(manage):
    proxy = ProxyFactory()
    GuardrailFactory(proxy=proxy)
    out, _ = manage("attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params", PARAMS)
    assert GuardrailAttachment.objects.get(pk=out.strip()).order == 2


def test_attaches_to_a_provider(manage):
    provider = ProviderFactory()
    out, _ = manage(
        "attach_guardrail", "--provider", provider.slug, "--policy", WORD_COUNT, "--params", PARAMS
    )
    attachment = GuardrailAttachment.objects.get(pk=out.strip())
    assert (attachment.provider, attachment.proxy) == (provider, None)


def test_reads_parameters_from_a_file(manage, tmp_path):
    proxy = ProxyFactory()
    path = tmp_path / "params.json"
    path.write_text(PARAMS)
    out, _ = manage(
        "attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params-file", str(path)
    )
    assert GuardrailAttachment.objects.get(pk=out.strip()).params["request"]["max"] == 50


def test_can_be_attached_disabled(manage):
    proxy = ProxyFactory()
    out, _ = manage(
        "attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params", PARAMS, "--disabled"
    )
    assert GuardrailAttachment.objects.get(pk=out.strip()).enabled is False


def test_invalid_json_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="--params is not valid JSON"):
        manage("attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params", "{max: 5")


def test_parameters_breaking_the_schema_are_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match=r"params\.request\.max: This field is required"):
        manage(
            "attach_guardrail",
            proxy.slug,
            "--policy",
            WORD_COUNT,
            "--params",
            '{"request": {"min": 1}}',
        )


def test_minimum_above_maximum_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="must not exceed the maximum"):
        manage(
            "attach_guardrail",
            proxy.slug,
            "--policy",
            WORD_COUNT,
            "--params",
            '{"request": {"min": 9, "max": 3}}',
        )


def test_parameters_that_are_not_an_object_are_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="Parameters must be an object"):
        manage("attach_guardrail", proxy.slug, "--policy", WORD_COUNT, "--params", "[1]")


def test_unknown_policy_lists_the_known_ones(manage):
    proxy = ProxyFactory()
    with pytest.raises(
        CommandError, match=f"No policy named 'nope'.*Known policies: .*{WORD_COUNT}"
    ):
        manage("attach_guardrail", proxy.slug, "--policy", "nope", "--params", "{}")


def test_unknown_proxy_is_an_error(manage):
    with pytest.raises(CommandError, match="No proxy 'ghost'"):
        manage("attach_guardrail", "ghost", "--policy", WORD_COUNT, "--params", PARAMS)


def test_proxy_and_provider_together_are_refused(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="either a PROXY or --provider"):
        manage(
            "attach_guardrail",
            proxy.slug,
            "--provider",
            proxy.provider.slug,
            "--policy",
            WORD_COUNT,
            "--params",
            PARAMS,
        )


def test_a_target_is_required(manage):
    with pytest.raises(CommandError, match="either a PROXY or --provider"):
        manage("attach_guardrail", "--policy", WORD_COUNT, "--params", PARAMS)
