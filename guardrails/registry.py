"""The policy registry: every guardrail or policy is one small class registered here.

A policy declares its name, version, phases and a JSON schema for its parameters (properties
flagged ``"x-advanced": true`` are shown collapsed in forms). Attachments are validated against
that schema when saved, with the schema's defaults filled in, so the deployment snapshot holds
complete, checked parameters and the gateway never re-validates per request.
"""

from collections.abc import Iterable
from typing import Any, ClassVar

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError as SchemaError


class Phase:
    REQUEST = "request"
    RESPONSE = "response"
    STREAM = "stream"


class ParameterError(ValueError):
    """Parameters that break a policy's schema; ``errors`` holds ``{"field", "message"}`` rows."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


class Policy:
    """Base class. Subclasses set the class attributes and, later, the phase hooks."""

    name: ClassVar[str]
    version: ClassVar[str] = "v1"
    display_name: ClassVar[str]
    description: ClassVar[str] = ""
    category: ClassVar[str] = "guardrail"
    phases: ClassVar[frozenset[str]] = frozenset()
    parameters_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    @classmethod
    def validate_params(cls, params: dict[str, Any] | None) -> dict[str, Any]:
        """Check ``params`` against the schema and return them with defaults filled in."""
        params = {} if params is None else params
        validator = Draft7Validator(cls.parameters_schema)
        errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
        if errors:
            raise ParameterError([_field_error(e) for e in errors])
        cleaned = _with_defaults(cls.parameters_schema, params)
        problems = cls.check(cleaned)
        if problems:
            raise ParameterError(problems)
        return cleaned

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        """Rules the schema cannot express (e.g. min <= max). Return field errors."""
        return []

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "version": cls.version,
            "display_name": cls.display_name,
            "description": cls.description,
            "category": cls.category,
            "phases": sorted(cls.phases),
            "parameters_schema": cls.parameters_schema,
        }


def _field_error(error: SchemaError) -> dict[str, str]:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
        message = "This field is required."
    elif error.validator == "additionalProperties":
        message = error.message
    else:
        message = error.message
    return {
        "field": "params." + ".".join(p for p in path if p) if path else "params",
        "message": message,
    }


def _with_defaults(schema: dict[str, Any], value: Any) -> Any:
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    result = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if key not in result and "default" in sub:
            result[key] = sub["default"]
        if key in result:
            result[key] = _with_defaults(sub, result[key])
    return result


_REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator adding a policy to the catalog."""
    Draft7Validator.check_schema(cls.parameters_schema)
    _REGISTRY[cls.name] = cls
    return cls


def get_policy(name: str) -> type[Policy] | None:
    return _REGISTRY.get(name)


def all_policies() -> Iterable[type[Policy]]:
    return sorted(_REGISTRY.values(), key=lambda p: p.display_name)
