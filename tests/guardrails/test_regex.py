import pytest

from config.errors import ValidationFailed
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error

pytestmark = pytest.mark.anyio

NAME = "regex-guardrail"


def test_valid_parameters_are_accepted():
    _, params = validated_params(NAME, {"request": {"regex": "(?i)hello"}})
    assert params["request"]["invert"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"request": {"regex": "("}}, "params.request.regex"),
        ({"request": {"regex": r"(a)\1"}}, "params.request.regex"),  # no backreferences in RE2
        ({"request": {"regex": ""}}, "params.request.regex"),
        ({"request": {}}, "params.request.regex"),
    ],
)
def test_invalid_patterns_are_rejected(params, field):
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, params)
    assert exc.value.errors[0]["field"] == field


async def test_a_prompt_matching_the_pattern_passes():
    assert (
        await request_error(NAME, {"request": {"regex": "order #\\d+"}}, chat("order #42")) is None
    )


async def test_a_prompt_not_matching_the_pattern_is_stopped():
    body = await request_error(NAME, {"request": {"regex": "^order"}}, chat("hello"))
    assert body["type"] == "REGEX_GUARDRAIL"
    assert body["message"]["actionReason"] == "Violation of regular expression detected."


async def test_invert_blocks_a_matching_prompt():
    params = {"request": {"regex": "(?i)password", "invert": True}}
    assert await request_error(NAME, params, chat("my PASSWORD is x")) is not None


async def test_invert_lets_a_prompt_without_a_match_through():
    params = {"request": {"regex": "(?i)password", "invert": True}}
    assert await request_error(NAME, params, chat("hello")) is None


async def test_the_assessment_names_the_pattern():
    params = {"request": {"regex": "^order", "showAssessment": True}}
    body = await request_error(NAME, params, chat("hello"))
    assert body["message"]["assessments"] == (
        "Violation of regular expression detected. Violated regular expression: ^order"
    )


async def test_without_show_assessment_there_is_no_assessment():
    body = await request_error(NAME, {"request": {"regex": "^order"}}, chat("hello"))
    assert "assessments" not in body["message"]


async def test_a_missing_json_path_intervenes():
    body = await request_error(NAME, {"request": {"regex": "x"}}, {"input": "x"})
    assert body["message"]["actionReason"].startswith("No value found at JSONPath")


async def test_a_pathological_pattern_against_a_long_crafted_prompt_returns_the_right_answer():
    # Exponential for a backtracking engine; linear for RE2.
    params = {"request": {"regex": "(a+)+$"}}
    body = await request_error(NAME, params, chat("a" * 100_000 + "!"))
    assert body["message"]["actionReason"] == "Violation of regular expression detected."


async def test_the_response_section_checks_the_completion():
    params = {"response": {"enabled": True, "regex": "^\\{"}}
    assert await response_error(NAME, params, completion("plain")) is not None
