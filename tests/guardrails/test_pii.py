from typing import Any

import orjson
import pytest

from core.errors import ValidationFailed
from gateways.dataplane.chain import UpstreamAnswer
from guardrails.services import validated_params
from tests.guardrails.conftest import (
    answer,
    chain_of,
    chat,
    compiled,
    completion,
    request_error,
    request_verdict,
)

pytestmark = pytest.mark.anyio

NAME = "pii-masking-regex"
PROMPT = "Mail jane.doe@example.com or call 415-555-2671 about SSN 123-45-6789."


def test_defaults_follow_the_reference():
    _, params = validated_params(NAME, {"email": True})
    assert params == {
        "email": True,
        "phone": False,
        "ssn": False,
        "customPIIEntities": [],
        "jsonPath": "$.messages[-1].content",
        "redactPII": False,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "params"),
        (
            {"customPIIEntities": [{"piiEntity": "lower", "piiRegex": "x"}]},
            "params.customPIIEntities.0.piiEntity",
        ),
        (
            {"customPIIEntities": [{"piiEntity": "KEY", "piiRegex": "("}]},
            "params.customPIIEntities.0.piiRegex",
        ),
        (
            {"email": True, "customPIIEntities": [{"piiEntity": "EMAIL", "piiRegex": "x"}]},
            "params.customPIIEntities.0.piiEntity",
        ),
        ({"email": True, "jsonPath": "$["}, "params.jsonPath"),
        (
            {"customPIIEntities": [{"piiEntity": "ANY", "piiRegex": "x*"}]},
            "params.customPIIEntities.0.piiRegex",
        ),
    ],
)
def test_invalid_parameters_are_rejected_with_the_field(params, field):
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, params)
    assert field in [e["field"] for e in exc.value.errors]


async def test_built_in_entities_become_numbered_placeholders():
    policy = compiled(NAME, {"email": True, "phone": True, "ssn": True})
    body = chat(PROMPT)
    await request_verdict(policy, body)
    assert body["messages"][0]["content"] == (
        "Mail [EMAIL_0000] or call [PHONE_0001] about SSN [SSN_0002]."
    )


async def test_masking_reads_as_a_modification():
    policy = compiled(NAME, {"email": True})
    verdict = await request_verdict(policy, chat(PROMPT))
    assert verdict.action == "modified"


async def test_a_prompt_without_pii_is_left_alone():
    policy = compiled(NAME, {"email": True})
    assert await request_verdict(policy, chat("nothing personal")) is None


async def test_the_same_value_gets_the_same_placeholder():
    policy = compiled(NAME, {"email": True})
    body = chat("a@example.com, b@example.com, a@example.com")
    await request_verdict(policy, body)
    assert body["messages"][0]["content"] == "[EMAIL_0000], [EMAIL_0001], [EMAIL_0000]"


async def test_custom_entities_are_masked():
    params = {"customPIIEntities": [{"piiEntity": "ORDER_ID", "piiRegex": "ORD-[0-9]{6}"}]}
    body = chat("Where is ORD-123456?")
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"][0]["content"] == "Where is [ORDER_ID_0000]?"


async def test_each_match_is_named_after_the_entity_that_matched_it():
    # Custom entities come first: where one matches, it names the value, even when a built-in
    # entity would match the same text; elsewhere the built-in ones name theirs.
    params = {
        "phone": True,
        "ssn": True,
        "customPIIEntities": [
            {"piiEntity": "STAFF_PHONE", "piiRegex": "415-555-[0-9]{4}"},
            {"piiEntity": "TICKET", "piiRegex": "T-[0-9]+"},
        ],
    }
    body = chat("Call 415-555-2671 or 212-555-0188 on T-42, SSN 123-45-6789, T-7.")
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"][0]["content"] == (
        "Call [STAFF_PHONE_0000] or [PHONE_0001] on [TICKET_0002], SSN [SSN_0003], [TICKET_0004]."
    )


async def test_redaction_is_irreversible():
    policy = compiled(NAME, {"email": True, "redactPII": True})
    body = chat("write to jane@example.com")
    await request_verdict(policy, body)
    assert body["messages"][0]["content"] == "write to *****"
    assert policy.applies_to_response is False


async def test_placeholders_are_restored_in_the_response():
    chain, state = await _masked_state("write to jane@example.com", {"email": True})
    response = answer(completion("I wrote to [EMAIL_0000]."))
    result = await chain.run_response(response, state)
    content = orjson.loads(response.body)["choices"][0]["message"]["content"]
    assert content == "I wrote to jane@example.com."
    assert result.modified


async def test_unknown_placeholders_in_the_response_stay_as_they_are():
    chain, state = await _masked_state("write to jane@example.com", {"email": True})
    response = answer(completion("[EMAIL_0009] and [EMAIL_0000]"))
    await chain.run_response(response, state)
    content = orjson.loads(response.body)["choices"][0]["message"]["content"]
    assert content == "[EMAIL_0009] and jane@example.com"


async def test_every_string_under_an_object_path_is_masked():
    policy = compiled(NAME, {"email": True, "jsonPath": "$.messages"})
    body = {
        "messages": [
            {"role": "system", "content": "a@example.com"},
            {"role": "user", "content": "b@example.com"},
        ]
    }
    await request_verdict(policy, body)
    assert [m["content"] for m in body["messages"]] == ["[EMAIL_0000]", "[EMAIL_0001]"]


async def test_content_parts_are_masked():
    policy = compiled(NAME, {"email": True})
    body = chat([{"type": "text", "text": "to a@example.com"}])
    await request_verdict(policy, body)
    assert body["messages"][0]["content"][0]["text"] == "to [EMAIL_0000]"


async def test_a_missing_json_path_intervenes_rather_than_forwarding_pii():
    body = await request_error(NAME, {"email": True}, {"input": "a@example.com"})
    assert body["message"]["interveningGuardrail"] == "pii-masking-regex"
    assert body["message"]["actionReason"].startswith("No value found at JSONPath")


async def test_the_masked_body_is_what_the_chain_forwards():
    result = await chain_of((NAME, {"email": True})).run_request(chat("a@example.com"), {})
    assert result.body["messages"][0]["content"] == "[EMAIL_0000]"
    assert result.events == [{"policy": NAME, "action": "modified", "direction": "REQUEST"}]


@pytest.mark.parametrize(
    ("params", "text", "masked"),
    [
        ({"email": True}, "no at sign 415-555-2671", "no at sign 415-555-2671"),
        ({"email": True}, "at jane@example.com", "at [EMAIL_0000]"),
        ({"phone": True}, "jane@example.com, no digits", "jane@example.com, no digits"),
        ({"phone": True}, "call 415-555-2671", "call [PHONE_0000]"),
        ({"ssn": True}, "SSN 123-45-6789", "SSN [SSN_0000]"),
        ({"email": True, "ssn": True}, "SSN 123-45-6789", "SSN [SSN_0000]"),
        ({"email": True, "phone": True}, "j@example.com 415-555-2671", "[EMAIL_0000] [PHONE_0001]"),
        ({"phone": True, "ssn": True}, "123-45-6789 415-555-2671", "[SSN_0000] [PHONE_0001]"),
    ],
)
async def test_text_that_cannot_hold_an_entity_is_left_alone_and_the_rest_is_masked(
    params, text, masked
):
    body = chat(text)
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"][0]["content"] == masked


@pytest.mark.parametrize(
    ("value", "entity"),
    [
        ("+1 (415) 555-2671", "PHONE"),
        ("1-415-555-2671", "PHONE"),
        ("4155552671", "PHONE"),
        ("123456789", "SSN"),
        ("123 45 6789", "SSN"),
        ("j.doe+tag@mail.example.co.uk", "EMAIL"),
    ],
)
async def test_built_in_entities_are_named_by_what_matched(value, entity):
    body = chat(f"see {value} now")
    await request_verdict(compiled(NAME, {"email": True, "phone": True, "ssn": True}), body)
    assert body["messages"][0]["content"] == f"see [{entity}_0000] now"


async def _masked_state(prompt: str, params: dict | None = None) -> tuple[Any, dict]:
    chain = chain_of((NAME, params or {"email": True, "phone": True}))
    state: dict = {}
    await chain.run_request(chat(prompt), state)
    return chain, state


async def test_a_plain_response_is_restored_in_its_raw_bytes():
    chain, state = await _masked_state("write to jane@example.com or call 415-555-2671")
    raw = b'{"choices": [{"message": {"content": "Wrote [EMAIL_0000], called [PHONE_0001]."}}]}'
    response = UpstreamAnswer(200, "application/json", raw)
    result = await chain.run_response(response, state)
    # Byte for byte as it came but for the placeholders (not parsed and serialised again).
    assert response.body == (
        b'{"choices": [{"message": {"content": "Wrote jane@example.com, called 415-555-2671."}}]}'
    )
    assert result.modified
    assert result.events == [{"policy": NAME, "action": "modified", "direction": "RESPONSE"}]


async def test_a_response_without_placeholders_goes_out_as_it_came():
    chain, state = await _masked_state("write to jane@example.com")
    raw = b'{"choices": [{"message": {"content": "Done [1]."}}]}'
    response = UpstreamAnswer(200, "application/json", raw)
    result = await chain.run_response(response, state)
    assert response.body == raw
    assert not result.modified
    assert result.events == [{"policy": NAME, "action": "passed", "direction": "RESPONSE"}]


async def test_an_original_is_escaped_for_the_json_it_goes_back_into():
    params = {"customPIIEntities": [{"piiEntity": "QUOTED", "piiRegex": '"[a-z]+\\\\[a-z]+"'}]}
    chain, state = await _masked_state('say "ab\\cd" twice', params)
    response = answer(completion("It said [QUOTED_0000]."))
    await chain.run_response(response, state)
    assert orjson.loads(response.body) == completion('It said "ab\\cd".')


@pytest.mark.parametrize(
    "content",
    [
        "\\u005bEMAIL_0000] and [EMAIL_0000]",  # a placeholder spelled with an escape
        "caf\\u00e9 [EMAIL_0000]",  # any \u escape: only the parsed body can tell
    ],
)
async def test_escaped_text_is_restored_from_the_parsed_body(content):
    chain, state = await _masked_state("write to jane@example.com")
    raw = b'{"choices": [{"message": {"content": "' + content.encode() + b'"}}]}'
    response = UpstreamAnswer(200, "application/json", raw)
    result = await chain.run_response(response, state)
    restored = orjson.loads(response.body)["choices"][0]["message"]["content"]
    assert restored.count("jane@example.com") == content.count("EMAIL_0000")
    assert result.modified


async def test_originals_that_hold_a_bracket_are_restored_in_one_pass():
    # Replacing the placeholders one after another could restore "[B_0001]" inside the first
    # original, where restoring the text in one pass does not.
    params = {
        "customPIIEntities": [
            {"piiEntity": "A", "piiRegex": "<[^>]+>"},
            {"piiEntity": "B", "piiRegex": "#[0-9]+"},
        ]
    }
    chain, state = await _masked_state("see <x[B_0001]y> and #7", params)
    response = answer(completion("[A_0000] [B_0001]"))
    await chain.run_response(response, state)
    assert orjson.loads(response.body)["choices"][0]["message"]["content"] == "<x[B_0001]y> #7"


async def test_placeholders_are_restored_beside_a_guardrail_that_reads_the_parsed_body():
    chain = chain_of(
        (NAME, {"email": True}),
        ("word-count-guardrail", {"response": {"enabled": True, "max": 100}}),
    )
    state: dict = {}
    await chain.run_request(chat("write to jane@example.com"), state)
    response = answer(completion("Wrote [EMAIL_0000]."))
    result = await chain.run_response(response, state)
    assert result.intervention is None
    content = orjson.loads(response.body)["choices"][0]["message"]["content"]
    assert content == "Wrote jane@example.com."


async def test_masking_stops_after_the_last_entity_and_still_finds_every_one():
    policy = compiled(NAME, {"email": True, "phone": True, "ssn": True})
    body = chat("a@b.io 415-555-2671 tail without any, then 123-45-6789 and c@d.io end")
    await request_verdict(policy, body)
    assert body["messages"][0]["content"] == (
        "[EMAIL_0000] [PHONE_0001] tail without any, then [SSN_0002] and [EMAIL_0003] end"
    )


async def test_placeholders_count_on_in_hexadecimal_past_the_first_few():
    text = " ".join(f"user{n}@example.com" for n in range(18))
    body = chat(text)
    await request_verdict(compiled(NAME, {"email": True}), body)
    assert body["messages"][0]["content"] == " ".join(f"[EMAIL_{n:04x}]" for n in range(18))
    assert body["messages"][0]["content"].endswith("[EMAIL_0010] [EMAIL_0011]")
