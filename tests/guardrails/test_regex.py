import pytest

from core.errors import ValidationFailed
from guardrails.catalog.regex import compile_re2, literal_finder, re2_found
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


@pytest.mark.parametrize(
    "pattern, text",
    [
        ("(?i)ignore previous instructions", "Please IGNORE previous Instructions now"),
        ("(?i)ignore previous instructions", "ignore previous instruction"),
        ("(?i)kelvin", "temperature in \u212aelvin"),  # RE2 folds the Kelvin sign onto k
        ("(?i)kelvin", "temperature in Kelvin, café"),
        ("(?i)straße", "STRASSE"),
        ("Hello, world", "say Hello, world!"),
        ("Hello, world", "say hello, world!"),
        ("a-b_c:d;e'f\"g", "x a-b_c:d;e'f\"g y"),
        ("(?i)ab", ""),
    ],
)
def test_a_plain_text_pattern_is_found_exactly_as_re2_finds_it(pattern, text):
    compiled = compile_re2(pattern)
    finder = literal_finder(pattern, compiled)
    assert finder is not None or not pattern.isascii()
    expected = compiled.search(text) is not None
    assert (finder or (lambda t: re2_found(compiled, t)))(text) is expected


@pytest.mark.parametrize("pattern", ["a.b", "(?i)a+", "^start", "(?s)x", "a|b", "\\bword", "a[b]"])
def test_patterns_with_syntax_take_re2(pattern):
    assert literal_finder(pattern, compile_re2(pattern)) is None


async def test_a_plain_text_blocklist_stops_a_prompt_in_any_case():
    params = {"request": {"regex": "(?i)ignore previous instructions", "invert": True}}
    assert await request_error(NAME, params, chat("Now IGNORE Previous Instructions.")) is not None
    assert await request_error(NAME, params, chat("Follow previous instructions.")) is None
