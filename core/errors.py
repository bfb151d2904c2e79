"""Domain errors raised by services and mapped by each surface (API, admin, commands)."""

from typing import ClassVar

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A business rule said no. ``code`` is stable; ``status`` is the HTTP status it maps to."""

    code: ClassVar[str] = "ERROR"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class ValidationFailed(DomainError):
    code = "VALIDATION_FAILED"
    status = 400

    @classmethod
    def from_django(cls, exc) -> "ValidationFailed":
        """Turn a Django ``ValidationError`` into field errors."""
        errors = []
        if hasattr(exc, "error_dict"):
            for field, items in exc.message_dict.items():
                for message in items:
                    errors.append(
                        {"field": field if field != "__all__" else "", "message": message}
                    )
        else:
            errors = [{"field": "", "message": m} for m in exc.messages]
        summary = "; ".join(
            (f"{e['field']}: {e['message']}" if e["field"] else e["message"]) for e in errors
        )
        return cls(summary or "Validation failed.", errors=errors)


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403


def validated_save(instance, *, exclude: list[str] | None = None) -> None:
    """``full_clean`` then save; model validation errors become ``ValidationFailed``."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as exc:
        raise ValidationFailed.from_django(exc) from None
    instance.save()
