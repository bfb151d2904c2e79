"""Resources (HTTP method + path) offered by templates, exposed by proxies, and matched by
access control. Paths may hold ``{param}`` segments."""

import re
from typing import Any

from core.errors import ValidationFailed

METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "*"}
_PATH = re.compile(r"^/[A-Za-z0-9_\-.~/{}:*]*$")


def validate_resources(value: Any, *, field: str) -> list[dict[str, str]]:
    """Check and normalise a list of ``{"method", "path"}`` rows (method upper-cased)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationFailed(
            f"{field} must be a list.", errors=[{"field": field, "message": "Expected a list."}]
        )
    cleaned, seen = [], set()
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            raise ValidationFailed(
                f"{field}[{index}] must be an object with method and path.",
                errors=[{"field": f"{field}[{index}]", "message": 'Expected {"method", "path"}.'}],
            )
        method = str(row.get("method", "*") or "*").upper()
        path = str(row.get("path", "")).strip()
        if method not in METHODS:
            raise ValidationFailed(
                f"Unknown HTTP method '{method}'.",
                errors=[
                    {
                        "field": f"{field}[{index}].method",
                        "message": f"Unknown HTTP method '{method}'.",
                    }
                ],
            )
        if not _PATH.match(path):
            raise ValidationFailed(
                f"Invalid resource path '{path}'.",
                errors=[{"field": f"{field}[{index}].path", "message": "A path starts with '/'."}],
            )
        if (method, path) not in seen:
            seen.add((method, path))
            cleaned.append({"method": method, "path": path})
    return cleaned


def path_pattern(path: str) -> str:
    """A regular expression for a resource path: ``{x}`` matches one segment, ``*`` the rest."""
    out = []
    for part in re.split(r"(\{[^}]+\}|\*)", path):
        if part == "*":
            out.append(".*")
        elif part.startswith("{") and part.endswith("}"):
            out.append(r"[^/]+?")
        else:
            out.append(re.escape(part))
    return "".join(out)
