"""Identifiers derived from names, and the field rules users see (SPEC §1.2)."""

import re
import secrets
import string

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from core.errors import ValidationFailed

ID_MIN, ID_MAX = 3, 40
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CONTEXT = re.compile(r"^/([a-zA-Z0-9_\-./]*[^/])?$")

name_validator = RegexValidator(
    r"^(?=.*[A-Za-z0-9])[A-Za-z0-9\-_. ]+$",
    "Use letters, digits, spaces, '-', '_' or '.', with at least one letter or digit.",
)
version_validator = RegexValidator(r"^v\d+\.\d+$", "Use the form v<major>.<minor>, e.g. v1.0.")
id_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$",
    "Use 3-40 lowercase letters, digits or '-', starting and ending with a letter or digit.",
)


def slug_from_name(name: str) -> str:
    """Lowercase the name, turn runs of other characters into '-', keep 3-40 characters."""
    slug = _NON_ALNUM.sub("-", name.lower()).strip("-")[:ID_MAX].strip("-")
    if len(slug) < ID_MIN:
        slug = f"{slug}-{random_suffix()}".strip("-")
    return slug


def with_suffix(slug: str) -> str:
    """A variant of ``slug`` for when it is taken: ``-xxxx`` appended within 40 characters."""
    return f"{slug[: ID_MAX - 5].strip('-')}-{random_suffix()}"


def random_suffix() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(4))


def normalize_context(context: str | None) -> str:
    """One leading '/', no trailing '/', no empty segments; '' and None mean '/'."""
    raw = (context or "").strip()
    segments = [s for s in raw.split("/") if s]
    normalized = "/" + "/".join(segments)
    if len(normalized) > 200 or not _CONTEXT.match(normalized):
        raise ValidationError(
            "Context may hold only letters, digits, '_', '-', '.' and '/' (at most 200).",
            code="invalid_context",
        )
    return normalized


def unique_slug(model, name: str) -> str:
    """A free ID for ``model`` derived from ``name``, with a random suffix on collision."""
    slug = slug_from_name(name)
    for _ in range(6):
        if not model.objects.filter(slug=slug).exists():
            return slug
        slug = with_suffix(slug_from_name(name))
    raise ValidationFailed("Could not generate a free ID for this name; choose another name.")
