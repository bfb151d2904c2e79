import json

import pytest

from core.errors import ValidationFailed
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error

pytestmark = pytest.mark.anyio

NAME = "json-schema-guardrail"
SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name"],
    }
)


def test_a_schema_as_json_text_is_accepted():
    _, params = validated_params(NAME, {"response": {"schema": SCHEMA}})
    assert params["response"]["schema"] == SCHEMA


def test_the_response_section_is_on_and_the_request_section_off_by_default():
    _, params = validated_params(
        NAME, {"request": {"schema": SCHEMA}, "response": {"schema": SCHEMA}}
    )
    assert (params["request"]["enabled"], params["response"]["enabled"]) == (False, True)


def test_a_schema_as_an_object_is_accepted():
    validated_params(NAME, {"request": {"enabled": True, "schema": {"type": "object"}}})


@pytest.mark.parametrize("schema", ["{not json", '{"type": "nonsense"}', "[1]"])
def test_an_unusable_schema_is_rejected(schema):
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {"request": {"enabled": True, "schema": schema}})
    assert exc.value.errors[0]["field"] == "params.request.schema"


async def test_json_text_matching_the_schema_passes():
    prompt = json.dumps({"name": "Ada", "age": 36})
    assert (
        await request_error(NAME, {"request": {"enabled": True, "schema": SCHEMA}}, chat(prompt))
        is None
    )


async def test_json_text_breaking_the_schema_is_stopped():
    body = await request_error(
        NAME, {"request": {"enabled": True, "schema": SCHEMA}}, chat('{"age": 3}')
    )
    assert body["type"] == "JSON_SCHEMA_GUARDRAIL"
    assert body["message"]["actionReason"] == "Violation of JSON schema detected."


async def test_the_assessments_list_field_description_and_value():
    params = {"request": {"enabled": True, "schema": SCHEMA, "showAssessment": True}}
    body = await request_error(NAME, params, chat('{"name": "Ada", "age": -1}'))
    assert body["message"]["assessments"] == [
        {"field": "age", "description": "-1 is less than the minimum of 0", "value": -1}
    ]


async def test_without_show_assessment_there_is_no_assessment():
    body = await request_error(NAME, {"request": {"enabled": True, "schema": SCHEMA}}, chat("{}"))
    assert "assessments" not in body["message"]


async def test_text_that_is_not_json_is_stopped():
    params = {"request": {"enabled": True, "schema": SCHEMA, "showAssessment": True}}
    body = await request_error(NAME, params, chat("hello"))
    assert body["message"]["assessments"][0]["description"].startswith("Invalid JSON")


async def test_invert_blocks_json_that_matches_the_schema():
    params = {"request": {"enabled": True, "schema": SCHEMA, "invert": True}}
    assert await request_error(NAME, params, chat('{"name": "Ada"}')) is not None


async def test_invert_lets_json_that_breaks_the_schema_through():
    params = {"request": {"enabled": True, "schema": SCHEMA, "invert": True}}
    assert await request_error(NAME, params, chat('{"age": 1}')) is None


async def test_an_object_selected_by_the_path_is_validated_as_it_is():
    params = {
        "request": {
            "enabled": True,
            "schema": {"type": "array", "minItems": 2},
            "jsonPath": "$.messages",
        }
    }
    assert await request_error(NAME, params, chat("x")) is not None


async def test_a_missing_json_path_intervenes():
    body = await request_error(
        NAME, {"request": {"enabled": True, "schema": SCHEMA}}, {"messages": []}
    )
    assert body["message"]["actionReason"].startswith("No value found at JSONPath")


async def test_the_response_section_checks_the_completion():
    params = {"response": {"schema": SCHEMA}}
    assert await response_error(NAME, params, completion('{"name": "Ada"}')) is None
    assert await response_error(NAME, params, completion('{"name": 1}')) is not None
