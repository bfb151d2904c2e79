import pytest

from core.errors import ValidationFailed
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error

pytestmark = pytest.mark.anyio

NAME = "word-count-guardrail"


def test_valid_parameters_get_the_reference_defaults():
    _, params = validated_params(NAME, {"request": {"max": 5}, "response": {"max": 9}})
    assert params["request"] == {
        "enabled": True,
        "min": 0,
        "max": 5,
        "jsonPath": "$.messages[-1].content",
        "invert": False,
        "showAssessment": False,
    }
    assert params["response"]["enabled"] is False
    assert params["response"]["jsonPath"] == "$.choices[0].message.content"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"request": {"min": 1}}, "params.request.max"),
        ({"request": {"max": 0}}, "params.request.max"),
        ({"request": {"min": 5, "max": 2}}, "params.request.min"),
        ({"request": {"max": 5, "jsonPath": "$.messages["}}, "params.request.jsonPath"),
        ({"request": {"max": 5, "colour": "red"}}, "params.request"),
        ({}, "params"),
    ],
)
def test_invalid_parameters_are_rejected_with_the_field(params, field):
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, params)
    assert field in [e["field"] for e in exc.value.errors]


def test_a_configuration_with_every_section_disabled_is_rejected():
    with pytest.raises(ValidationFailed, match="Enable the request or the response section"):
        validated_params(NAME, {"response": {"max": 5}})


async def test_a_prompt_within_the_range_passes():
    assert (
        await request_error(NAME, {"request": {"min": 2, "max": 4}}, chat("one two three")) is None
    )


async def test_a_prompt_over_the_maximum_is_stopped_with_the_reference_body():
    body = await request_error(NAME, {"request": {"max": 2}}, chat("one two three"))
    assert body == {
        "type": "WORD_COUNT_GUARDRAIL",
        "message": {
            "action": "GUARDRAIL_INTERVENED",
            "interveningGuardrail": "word-count-guardrail",
            "direction": "REQUEST",
            "actionReason": "Violation of applied word count constraints detected.",
        },
    }


async def test_a_prompt_under_the_minimum_is_stopped():
    assert await request_error(NAME, {"request": {"min": 3, "max": 9}}, chat("one two")) is not None


async def test_the_assessment_is_shown_only_when_asked_for():
    params = {"request": {"min": 0, "max": 2, "showAssessment": True}}
    body = await request_error(NAME, params, chat("one two three"))
    assert body["message"]["assessments"] == (
        "Violation of word count detected. Expected between 0 and 2 words."
    )


async def test_invert_blocks_a_prompt_inside_the_range():
    params = {"request": {"min": 1, "max": 3, "invert": True, "showAssessment": True}}
    body = await request_error(NAME, params, chat("one two"))
    assert body["message"]["assessments"] == (
        "Violation of word count detected. Expected word count to be outside the range of "
        "1 to 3 words."
    )


async def test_invert_lets_a_prompt_outside_the_range_through():
    params = {"request": {"min": 1, "max": 3, "invert": True}}
    assert await request_error(NAME, params, chat("one two three four")) is None


async def test_a_missing_json_path_intervenes_with_that_reason():
    body = await request_error(NAME, {"request": {"max": 5}}, {"model": "m", "messages": []})
    assert body["message"]["actionReason"] == (
        "No value found at JSONPath '$.messages[-1].content'."
    )


async def test_a_value_that_is_not_text_intervenes_with_that_reason():
    body = await request_error(NAME, {"request": {"max": 5}}, chat(42))
    assert "is not a string" in body["message"]["actionReason"]


async def test_content_parts_are_counted_by_their_text():
    content = [{"type": "text", "text": "one two"}, {"type": "image_url", "image_url": {}}]
    assert await request_error(NAME, {"request": {"max": 2}}, chat(content)) is None


async def test_the_whole_body_is_counted_when_the_path_is_empty():
    params = {"request": {"max": 1, "jsonPath": ""}}
    assert await request_error(NAME, params, {"a": "one two"}) is not None


async def test_the_response_section_checks_the_completion():
    params = {"response": {"enabled": True, "max": 1}}
    body = await response_error(NAME, params, completion("one two"))
    assert body["message"]["direction"] == "RESPONSE"


def test_parameters_without_any_section_ask_for_one():
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {})
    assert exc.value.errors == [
        {"field": "params", "message": "Provide at least one of: request, response."}
    ]


def test_words_count_as_str_split_counts_them_in_any_text():
    import random

    from guardrails.catalog.counting import WordCounter

    # ASCII text is counted from translated bytes; it must agree with str.split, whose
    # whitespace includes \x1c-\x1f; other text is split as it is.
    pieces = [" ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", "a", "b."]
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert WordCounter.count(text) == len(text.split()), repr(text)
    assert WordCounter.count("caf\u00e9\u00a0au\u2003lait") == 3
