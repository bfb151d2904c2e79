"""A policy's parameter form generated from its JSON schema: the fields to render (with the
rarely used ones flagged advanced) and the posted values turned back into ``params``.

Validation stays in ``guardrails.services``; this module only maps the schema to inputs and
its error paths (``params.request.max``) back onto them."""

import json
import re
from typing import Any

PREFIX = "p"


def field_name(path: list[str]) -> str:
    return ".".join([PREFIX, *path])


def error_field(error_path: str) -> str:
    """``params.request.max`` (a service error's field) as the input name ``p.request.max``."""
    parts = error_path.split(".")
    return field_name(parts[1:]) if parts and parts[0] == "params" else ""


def _simple_rows(schema: dict[str, Any]) -> bool:
    """An array of objects made of numbers and choices only (a limit list: amount, duration,
    unit): short inputs that fit in table rows. Free text stays JSON unless the array is
    flagged ``"x-table": true`` (short names such as models, not regexes or prompts)."""
    items = schema.get("items", {})
    properties = items.get("properties", {})
    short = ("integer", "number", "string") if schema.get("x-table") else ("integer", "number")
    return (
        items.get("type") == "object"
        and bool(properties)
        and all("enum" in sub or sub.get("type") in short for sub in properties.values())
    )


def _choices(schema: dict[str, Any]) -> list[Any]:
    """The options of an array of choices (``{"items": {"enum": [...]}}``), else []."""
    return list(schema.get("items", {}).get("enum", [])) if schema.get("type") == "array" else []


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if "enum" in schema:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind == "string":
        return "text"
    if _choices(schema):
        return "choices"
    if kind == "array" and schema.get("items", {}).get("type") == "string":
        return "lines"
    if kind == "array" and _simple_rows(schema):
        return "rows"
    return "json"


def _display(kind: str, value: Any) -> Any:
    if value is None:
        return ""
    if kind == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if kind == "json":
        return json.dumps(value, indent=2)
    return value


def schema_fields(
    schema: dict[str, Any],
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    path: list[str] | None = None,
) -> dict[str, Any]:
    """The group of inputs for an object schema: ``fields``, ``advanced`` and nested ``groups``."""
    values = values if isinstance(values, dict) else {}
    errors = errors or {}
    path = path or []
    group: dict[str, Any] = {
        "title": schema.get("title", ""),
        "description": schema.get("description", ""),
        "name": field_name(path),
        "errors": errors.get(field_name(path), []),
        "fields": [],
        "advanced": [],
        "groups": [],
        "advanced_groups": [],
    }
    required = set(schema.get("required", []))
    for key, sub in schema.get("properties", {}).items():
        sub_path = [*path, key]
        if sub.get("type") == "object" and "properties" in sub:
            child = schema_fields(sub, values.get(key, {}), errors, sub_path)
            child["title"] = child["title"] or key.capitalize()
            group["advanced_groups" if sub.get("x-advanced") else "groups"].append(child)
            continue
        kind = _kind(sub)
        value = values[key] if key in values else sub.get("default")
        name = field_name(sub_path)
        if kind == "rows":
            field = _rows_field(sub, value, errors, sub_path, required=key in required)
            group["advanced" if sub.get("x-advanced") else "fields"].append(field)
            continue
        field = {
            "name": name,
            "id": "id_" + name.replace(".", "_"),
            "kind": kind,
            "label": sub.get("title") or key,
            "help": sub.get("description", ""),
            "value": _display(kind, value),
            "checked": bool(value) if kind == "checkbox" else False,
            "options": _choices(sub) or sub.get("enum", []),
            "selected": list(value) if kind == "choices" and isinstance(value, list) else [],
            "required": key in required,
            "minimum": sub.get("minimum", ""),
            "maximum": sub.get("maximum", ""),
            "errors": errors.get(name, []),
        }
        group["advanced" if sub.get("x-advanced") else "fields"].append(field)
    group["has_errors"] = _has_errors(group)
    return group


def _has_errors(group: dict[str, Any]) -> bool:
    """Whether any input of the group, or of a group inside it, has an error."""
    fields = group["fields"] + group["advanced"]
    cells = [cell for field in fields for row in field.get("rows", ()) for cell in row]
    return (
        bool(group["errors"])
        or any(item["errors"] for item in fields + cells)
        or any(child["has_errors"] for child in group["groups"] + group["advanced_groups"])
    )


def _rows_field(
    schema: dict[str, Any],
    value: Any,
    errors: dict[str, list[str]],
    path: list[str],
    *,
    required: bool,
) -> dict[str, Any]:
    """A list of flat objects as a table: one row per item plus a blank one to add."""
    rows = value if isinstance(value, list) else []
    count = min(max(len(rows) + 1, 2), schema.get("maxItems", 10))
    item = schema["items"]
    name = field_name(path)
    table = []
    for index in range(count):
        cells = schema_fields(
            item, rows[index] if index < len(rows) else {}, errors, [*path, str(index)]
        )["fields"]
        if index >= len(rows):
            # A blank row stays blank (so it is not mistaken for a filled one); the defaults
            # show as placeholders and apply when the row is filled in.
            for cell in cells:
                if cell["kind"] == "number":
                    cell["placeholder"], cell["value"] = cell["value"], ""
        table.append(cells)
    return {
        "name": name,
        "id": "id_" + name.replace(".", "_"),
        "kind": "rows",
        "label": schema.get("title") or _words(path[-1]),
        "help": schema.get("description", ""),
        "required": required,
        "columns": [sub.get("title") or _words(key) for key, sub in item["properties"].items()],
        "rows": table,
        "text_cells": any(
            sub.get("type") == "string" and "enum" not in sub for sub in item["properties"].values()
        ),
        "errors": errors.get(name, []),
    }


def _words(key: str) -> str:
    """``totalTokenLimits`` as ``Total token limits``, for keys without a title."""
    spaced = re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", key).lower()
    return spaced[:1].upper() + spaced[1:]


def params_from_post(
    schema: dict[str, Any], data: Any, path: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The posted inputs as a params object, plus errors for inputs that could not be read.

    Blank inputs are left out so the policy's defaults apply. An optional section (``request``,
    ``response``) is sent only when it is switched on, or, without a switch, when filled in.
    """
    path = path or []
    params: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    required = set(schema.get("required", []))
    for key, sub in schema.get("properties", {}).items():
        sub_path = [*path, key]
        name = field_name(sub_path)
        if sub.get("type") == "object" and "properties" in sub:
            value, sub_errors = params_from_post(sub, data, sub_path)
            errors.update(sub_errors)
            # A section with a default always has its inputs on the form; its own switch
            # (if any) is sent as set, so switching it off is not mistaken for "use defaults".
            if key in required or "default" in sub or _switched_on(sub, data, sub_path):
                params[key] = value
            continue
        kind = _kind(sub)
        if kind == "checkbox":
            params[key] = data.get(name) in ("on", "true", "1")
            continue
        if kind == "choices":
            params[key] = [option for option in _choices(sub) if option in _picked(data, name)]
            continue
        if kind == "rows":
            rows, row_errors = _rows_from_post(sub, data, sub_path)
            errors.update(row_errors)
            if rows or key in required:
                params[key] = rows
            continue
        raw = (data.get(name) or "").strip()
        if raw == "":
            continue
        if kind == "number":
            try:
                params[key] = int(raw) if sub.get("type") == "integer" else float(raw)
            except ValueError:
                errors[name] = [
                    "Enter a number." if sub.get("type") == "number" else "Enter a whole number."
                ]
        elif kind == "lines":
            params[key] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif kind == "json":
            try:
                params[key] = json.loads(raw)
            except ValueError:
                errors[name] = ["Enter valid JSON."]
        else:
            params[key] = raw
    return params, errors


def _rows_from_post(
    schema: dict[str, Any], data: Any, path: list[str]
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The filled rows of a row table, in order; a row with only choices made is blank."""
    item = schema["items"]
    typed = [key for key, sub in item["properties"].items() if "enum" not in sub]
    rows: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    for index in range(schema.get("maxItems", 10) + 5):
        row_path = [*path, str(index)]
        if not any(field_name([*row_path, key]) in data for key in item["properties"]):
            break
        if not any((data.get(field_name([*row_path, key])) or "").strip() for key in typed):
            continue
        # Errors are named by the row's place in the result, as the service will name them.
        target = [*path, str(len(rows))]
        value, row_errors = params_from_post(item, _Renamed(data, row_path, target), target)
        errors.update(row_errors)
        rows.append(value)
    return rows, errors


class _Renamed:
    """Posted data read under another row index, so a skipped blank row shifts the rest."""

    def __init__(self, data: Any, source: list[str], target: list[str]):
        self.data = data
        self.source = field_name(source)
        self.target = field_name(target)

    def get(self, name: str, default: Any = None) -> Any:
        if name.startswith(self.target + "."):
            name = self.source + name[len(self.target) :]
        return self.data.get(name, default)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


def _picked(data: Any, name: str) -> set[str]:
    """Every value posted under ``name`` (a form's checkboxes share one name)."""
    if hasattr(data, "getlist"):
        return set(data.getlist(name))
    value = data.get(name)
    return set(value) if isinstance(value, list) else {value} if value else set()


def _switched_on(schema: dict[str, Any], data: Any, path: list[str]) -> bool:
    properties = schema.get("properties", {})
    if properties.get("enabled", {}).get("type") == "boolean":
        return data.get(field_name([*path, "enabled"])) in ("on", "true", "1")
    for key, sub in properties.items():
        posted = (data.get(field_name([*path, key])) or "").strip()
        if sub.get("type") == "object":
            if _switched_on(sub, data, [*path, key]):
                return True
        elif "enum" in sub:
            # A choice left at its default (or first) option does not ask for the section.
            if posted and posted != str(sub.get("default", sub["enum"][0])):
                return True
        elif sub.get("type") != "boolean" and posted:
            return True
    return False
