import pytest

from core.errors import ValidationFailed
from guardrails.catalog.counting import SentenceCounter
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error

pytestmark = pytest.mark.anyio

NAME = "sentence-count-guardrail"


def test_valid_parameters_are_accepted():
    _, params = validated_params(NAME, {"request": {"min": 1, "max": 3}})
    assert params["request"]["showAssessment"] is False


def test_min_above_max_is_rejected():
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {"request": {"min": 4, "max": 3}})
    assert exc.value.errors[0]["field"] == "params.request.min"


@pytest.mark.parametrize(
    ("text", "count"),
    [("One. Two! Three?", 3), ("No end", 1), ("Dots... and more.", 2), ("", 0), (" . ! ", 0)],
)
def test_sentences_are_non_blank_segments_between_terminators(text, count):
    assert SentenceCounter().add(text) == count


async def test_a_prompt_within_the_range_passes():
    assert await request_error(NAME, {"request": {"max": 2}}, chat("Hi. Bye.")) is None


async def test_a_prompt_over_the_maximum_is_stopped():
    body = await request_error(NAME, {"request": {"max": 1}}, chat("Hi. Bye."))
    assert body["type"] == "SENTENCE_COUNT_GUARDRAIL"
    assert body["message"]["actionReason"] == (
        "Violation of applied sentence count constraints detected."
    )


async def test_the_assessment_names_the_range_in_sentences():
    params = {"request": {"max": 1, "showAssessment": True}}
    body = await request_error(NAME, params, chat("Hi. Bye."))
    assert body["message"]["assessments"] == (
        "Violation of sentence count detected. Expected between 0 and 1 sentences."
    )


async def test_without_show_assessment_there_is_no_assessment():
    body = await request_error(NAME, {"request": {"max": 1}}, chat("Hi. Bye."))
    assert "assessments" not in body["message"]


async def test_invert_blocks_a_prompt_inside_the_range():
    params = {"request": {"min": 1, "max": 2, "invert": True}}
    assert await request_error(NAME, params, chat("Hi.")) is not None


async def test_a_missing_json_path_intervenes():
    params = {"request": {"max": 2, "jsonPath": "$.prompt"}}
    body = await request_error(NAME, params, chat("Hi."))
    assert body["message"]["actionReason"] == "No value found at JSONPath '$.prompt'."


async def test_the_response_section_checks_the_completion():
    params = {"response": {"enabled": True, "min": 2, "max": 5}}
    assert await response_error(NAME, params, completion("Only one.")) is not None
