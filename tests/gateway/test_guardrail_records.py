"""Guardrail outcomes on usage records, disabled and rate-limit attachments, and a proxy whose
chain cannot be compiled (it refuses requests; the rest of the gateway keeps serving)."""

import httpx
import openai
import pytest

from guardrails.models import GuardrailAttachment
from tests.gateway.guardrail_world import (
    MODEL,
    Scenario,
    chat,
    echo,
    last_record_id,
    on_proxy,
    record_after,
    reply,
    serve,
    words,
)


def corrupt(proxy) -> None:
    """An attachment the gateway cannot compile (as if saved by an older release)."""
    attachment = GuardrailAttachment.objects.create(
        proxy=proxy, policy="word-count-guardrail", policy_version="v1", params={}, order=1
    )
    GuardrailAttachment.objects.filter(pk=attachment.pk).update(policy="retired-guardrail")


@pytest.fixture(scope="module")
def guarded(committed, fake_upstream, start_gateway):
    return serve(
        start_gateway,
        fake_upstream.url,
        "rec",
        {
            "words": Scenario(
                on_proxy(
                    "word-count-guardrail",
                    {"request": {"max": 5}, "response": {"enabled": True, "max": 5}},
                )
            ),
            "pii": Scenario(on_proxy("pii-masking-regex", {"email": True})),
            "disabled": Scenario(
                on_proxy("word-count-guardrail", {"request": {"max": 1}}, enabled=False)
            ),
            "ratelimit": Scenario(
                on_proxy("basic-ratelimit", {"limits": [{"requests": 1000, "unit": "minute"}]})
            ),
            "broken": Scenario(corrupt),
        },
    )


def test_request_intervention_is_recorded_as_rejected(guarded, upstream):
    last = last_record_id()
    guarded.post("words", {"model": MODEL, "messages": chat(words(9))})
    record = record_after(guarded.proxies["words"], last)
    assert (record.status_code, record.outcome) == (422, "rejected")
    assert record.reason == "guardrail_intervened"
    assert record.details == {
        "guardrails": [
            {"policy": "word-count-guardrail", "action": "intervened", "direction": "REQUEST"}
        ]
    }


def test_response_intervention_is_recorded_with_the_upstream_tokens(guarded, upstream):
    last = last_record_id()
    guarded.post("words", {"model": MODEL, "messages": chat("hi")}, **reply(words(9)))
    record = record_after(guarded.proxies["words"], last)
    assert (record.status_code, record.outcome, record.reason) == (
        422,
        "rejected",
        "guardrail_intervened",
    )
    assert record.details["guardrails"][0]["direction"] == "RESPONSE"
    assert record.total_tokens is not None


def test_mid_stream_intervention_never_reads_as_passed(guarded, upstream):
    last = last_record_id()
    raw = guarded.stream_raw(
        "words", {"model": MODEL, "messages": chat("hi")}, **reply(words(9), 2)
    )
    assert b"GUARDRAIL_INTERVENED" in raw
    record = record_after(guarded.proxies["words"], last)
    assert record.streamed is True
    assert (record.outcome, record.reason) == ("rejected", "guardrail_intervened")
    assert record.details["guardrails"] == [
        {"policy": "word-count-guardrail", "action": "intervened", "direction": "RESPONSE"}
    ]


def test_passing_request_has_no_guardrail_details(guarded, upstream):
    last = last_record_id()
    guarded.post("words", {"model": MODEL, "messages": chat("hi")})
    record = record_after(guarded.proxies["words"], last)
    assert (record.outcome, record.details) == ("ok", {})


def test_pii_masking_is_recorded_as_a_modification_both_ways(guarded, upstream):
    last = last_record_id()
    guarded.post("pii", {"model": MODEL, "messages": chat("to a@example.com")}, **echo())
    record = record_after(guarded.proxies["pii"], last)
    assert record.outcome == "ok"
    assert record.details["guardrails"] == [
        {"policy": "pii-masking-regex", "action": "modified", "direction": "REQUEST"},
        {"policy": "pii-masking-regex", "action": "modified", "direction": "RESPONSE"},
    ]


def test_disabled_attachment_is_left_out_of_the_deployment_and_skipped(guarded, upstream):
    from deployments.selectors import current_deployment

    proxy = guarded.proxies["disabled"]
    deployment = current_deployment(proxy=proxy, gateway=proxy.deployments.first().gateway)
    assert deployment.snapshot["guardrails"]["proxy"] == []
    response = guarded.post("disabled", {"model": MODEL, "messages": chat(words(9))})
    assert response.status_code == 200


def test_rate_limit_policy_does_not_break_the_chain(guarded, upstream):
    response = guarded.post("ratelimit", {"model": MODEL, "messages": chat("hi")})
    assert response.status_code == 200


def test_uncompilable_chain_refuses_its_proxy_only(guarded, upstream):
    with pytest.raises(openai.InternalServerError) as caught:
        guarded.openai("broken").chat.completions.create(model=MODEL, messages=chat("hi"))
    assert caught.value.status_code == 503
    assert "guardrails could not be loaded" in caught.value.message
    assert "retired-guardrail" not in caught.value.message
    assert upstream.received() == []
    assert guarded.post("words", {"model": MODEL, "messages": chat("hi")}).status_code == 200
    assert "retired-guardrail" in guarded.server.log()


def test_non_json_body_is_refused_when_request_guardrails_must_read_it(guarded, upstream):
    response = httpx.post(
        f"{guarded.url('words')}/chat/completions",
        headers={"Authorization": f"Bearer {guarded.keys['words']}"},
        content=b"not json",
    )
    assert response.status_code == 415
    assert upstream.received() == []
