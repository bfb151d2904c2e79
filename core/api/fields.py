"""Serializer fields shared by every app's API.

DRF's scalar fields coerce freely (``123`` becomes ``"123"``, ``"yes"`` becomes ``True``); the
API promises a 400 for a wrong JSON type, so these fields accept only the JSON type they name.
"""

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Expected a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Expected true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "Expected a number."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Expected an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ImmutableIdMixin:
    """``id`` never changes: sending another value on update is a 400, the same value is fine."""

    id_source = "slug"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is not None and isinstance(self.initial_data, dict):
            current = getattr(self.instance, self.id_source)
            sent = self.initial_data.get("id", current)
            if sent != current:
                raise serializers.ValidationError({"id": "The ID cannot be changed."})
            attrs.pop(self.id_source, None)
        return attrs
