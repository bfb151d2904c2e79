import pytest

from core.errors import ValidationFailed
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error

pytestmark = pytest.mark.anyio

NAME = "content-length-guardrail"


def test_valid_parameters_are_accepted():
    version, params = validated_params(NAME, {"request": {"max": 100}})
    assert version == "v1"
    assert params["request"]["min"] == 0


def test_a_negative_minimum_is_rejected():
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {"request": {"min": -1, "max": 100}})
    assert exc.value.errors[0]["field"] == "params.request.min"


async def test_length_is_measured_in_utf8_bytes():
    # Four characters, eight bytes.
    assert await request_error(NAME, {"request": {"max": 7}}, chat("éééé")) is not None
    assert await request_error(NAME, {"request": {"max": 8}}, chat("éééé")) is None


async def test_the_violation_uses_the_reference_messages():
    params = {"request": {"max": 3, "showAssessment": True}}
    body = await request_error(NAME, params, chat("toolong"))
    assert body["message"]["actionReason"] == (
        "Violation of applied content length constraints detected."
    )
    assert body["message"]["assessments"] == (
        "Violation of content length detected. Expected between 0 and 3 bytes."
    )


async def test_without_show_assessment_there_is_no_assessment():
    body = await request_error(NAME, {"request": {"max": 3}}, chat("toolong"))
    assert "assessments" not in body["message"]


async def test_invert_uses_the_outside_the_range_assessment():
    params = {"request": {"min": 1, "max": 10, "invert": True, "showAssessment": True}}
    body = await request_error(NAME, params, chat("short"))
    assert body["message"]["assessments"] == (
        "Violation of content length detected. Expected content length to be outside the "
        "range of 1 to 10 bytes."
    )


async def test_a_missing_json_path_intervenes():
    body = await request_error(NAME, {"request": {"max": 3}}, {"prompt": "x"})
    assert body["message"]["actionReason"].startswith("No value found at JSONPath")


async def test_the_response_section_checks_the_completion():
    params = {"response": {"enabled": True, "max": 3}}
    assert await response_error(NAME, params, completion("toolong")) is not None
