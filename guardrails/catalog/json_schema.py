"""JSON schema guardrail: the selected value must validate against a draft-7 schema.

A string value (a model's reply, a prompt) is parsed as JSON first, since that is what a
schema on LLM text means; text that is not JSON fails validation. Any other value (an object
picked by ``jsonPath``, or the whole body) is validated as it is.
"""

from typing import Any

import orjson
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from guardrails.catalog.content import (
    REQUEST_JSON_PATH,
    RESPONSE_JSON_PATH,
    ContentGuardrail,
    Section,
    path_violation,
    section_schema,
    sections_schema,
)
from guardrails.jsonpath import PathProblem
from guardrails.registry import StreamMode, Verdict, register

_MAX_ERRORS = 20


def _schema_section(json_path: str, enabled: bool) -> dict[str, Any]:
    return section_schema(
        {
            "schema": {
                "type": ["string", "object"],
                "title": "JSON Schema",
                "description": "A draft-7 JSON schema, as JSON text or an object.",
            }
        },
        json_path=json_path,
        enabled=enabled,
        required=("schema",),
    )


def load_schema(value: str | dict[str, Any]) -> dict[str, Any]:
    """The schema as an object; raises ``ValueError`` when it is not a valid draft-7 schema."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"The schema is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise ValueError("The schema must be a JSON object.")
    try:
        Draft7Validator.check_schema(value)
    except SchemaError as exc:
        raise ValueError(f"The schema is not a valid draft-7 schema: {exc.message}") from None
    return value


@register
class JSONSchemaGuardrail(ContentGuardrail):
    name = "json-schema-guardrail"
    display_name = "JSON Schema Guardrail"
    description = "Requires the selected JSON (or JSON text) to validate against a schema."
    stream_mode = StreamMode.END
    # As in the reference v1, on for responses and off for requests unless a section says so.
    parameters_schema = sections_schema(
        _schema_section(REQUEST_JSON_PATH, False), _schema_section(RESPONSE_JSON_PATH, True)
    )

    @classmethod
    def check_section(cls, direction: str, section: dict[str, Any]) -> list[dict[str, str]]:
        try:
            load_schema(section["schema"])
        except ValueError as exc:
            return [{"field": f"params.{direction}.schema", "message": str(exc)}]
        return []

    def prepare(self, section: Section) -> Any:
        return Draft7Validator(load_schema(section.params["schema"]))

    def _judge_body(self, section: Section | None, body: Any) -> Verdict | None:
        if section is None:
            return None
        if section.path.is_root:
            return self.judge_value(section, body)
        matches = section.path.find(body)
        if not matches:
            problem = PathProblem(f"No value found at JSONPath '{section.path.expression}'.")
            return path_violation(section, problem)
        value = matches[0].value
        if isinstance(value, str):
            return self.judge_text(section, value)
        return self.judge_value(section, value)

    def judge_text(self, section: Section, text: str) -> Verdict | None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if section.invert:
                return None
            assessment = [
                {"field": "(root)", "description": f"Invalid JSON: {exc}", "value": text[:200]}
            ]
            return self.violation(section, assessment)
        return self.judge_value(section, value)

    def judge_value(self, section: Section, value: Any) -> Verdict | None:
        errors = list(section.compiled.iter_errors(value))
        if (not errors) != section.invert:
            return None
        assessment = [
            {
                "field": ".".join(str(p) for p in error.absolute_path) or "(root)",
                "description": error.message,
                "value": error.instance,
            }
            for error in errors[:_MAX_ERRORS]
        ]
        return self.violation(section, assessment or "The value matches the schema.")

    def violation(self, section: Section, assessment: Any) -> Verdict:
        return Verdict.intervene(
            "Violation of JSON schema detected.",
            assessment,
            show_assessment=section.show_assessment,
        )
