"""Counting guardrails (word count): pass when the selected text's count lies in [min, max]."""

from typing import Any, ClassVar

from guardrails.registry import Phase, Policy, register


def counting_section(unit: str, json_path: str, enabled: bool) -> dict[str, Any]:
    """The schema of one direction (request or response) of a counting guardrail."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean", "default": enabled, "title": "Enabled"},
            "min": {"type": "integer", "minimum": 0, "default": 0, "title": f"Minimum {unit}"},
            "max": {"type": "integer", "minimum": 1, "title": f"Maximum {unit}"},
            "jsonPath": {
                "type": "string",
                "default": json_path,
                "title": "JSON Path",
                "x-advanced": True,
            },
            "invert": {
                "type": "boolean",
                "default": False,
                "title": "Invert the Guardrail Decision",
                "x-advanced": True,
            },
            "showAssessment": {
                "type": "boolean",
                "default": False,
                "title": "Show Guardrail Assessment",
                "x-advanced": True,
            },
        },
        "required": ["max"],
    }


def counting_schema(unit: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "request": counting_section(unit, "$.messages[-1].content", True),
            "response": counting_section(unit, "$.choices[0].message.content", False),
        },
        "anyOf": [{"required": ["request"]}, {"required": ["response"]}],
    }


class CountingGuardrail(Policy):
    unit: ClassVar[str]
    phases = frozenset({Phase.REQUEST, Phase.RESPONSE})

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        for direction in ("request", "response"):
            section = params.get(direction)
            if section and section["min"] > section["max"]:
                errors.append(
                    {
                        "field": f"params.{direction}.min",
                        "message": f"Minimum {cls.unit} must not exceed the maximum.",
                    }
                )
        return errors


@register
class WordCountGuardrail(CountingGuardrail):
    name = "word-count-guardrail"
    display_name = "Word Count Guardrail"
    description = "Blocks prompts or responses whose word count falls outside a range."
    unit = "words"
    parameters_schema = counting_schema("word count")
