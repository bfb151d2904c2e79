"""The upstream credential on the command line: read from an environment variable (so it
stays out of shell history and the process list) or, if need be, given as a value. For AWS
Bedrock it may be the JSON text of an object of AWS keys (``{"aws_access_key_id": ...}``).

A key pool (several keys used in rotation) is given as a JSON list of strings
(``["sk-1", "sk-2"]``) or as one key per line."""

import json
import os
from typing import Any

from django.core.management.base import CommandError


def add_credential_arguments(parser, *, required: bool) -> None:
    """``--credential-env VAR`` (preferred) or ``--credential VALUE``, never both."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--credential-env",
        metavar="VAR",
        help="Read the upstream credential from this environment variable (recommended). "
        "Several keys used in rotation (a key pool): one per line, or a JSON list of strings. "
        "For AWS Bedrock: a Bedrock API key, or a JSON object of AWS keys "
        '({"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", '
        '"role_arn", "external_id"}).',
    )
    group.add_argument(
        "--credential",
        metavar="VALUE",
        help=(
            "The upstream credential itself. It ends up in shell history and in the process "
            "list; prefer --credential-env."
        ),
    )


def credential_from_options(options: dict[str, Any]) -> str | list[str] | None:
    """The credential given on the command line (a list for a key pool), ``None`` when
    neither option was used."""
    variable = options.get("credential_env")
    if variable:
        value = os.environ.get(variable, "").strip()
        if not value:
            raise CommandError(f"Environment variable {variable} is not set or is empty.")
        return key_pool_or_text(value, source=f"Environment variable {variable}")
    value = options.get("credential")
    if value is not None and not value.strip():
        raise CommandError("The credential must not be empty.")
    return key_pool_or_text(value.strip(), source="--credential") if value is not None else None


def key_pool_or_text(value: str, *, source: str) -> str | list[str]:
    """A JSON list or several lines as a key pool (checked by the service); else the text
    (a key, or the JSON object of AWS keys, which may span lines)."""
    if value.startswith("{"):
        return value
    if value.startswith("["):
        try:
            keys = json.loads(value)
        except json.JSONDecodeError:
            raise CommandError(f"{source} starts like a JSON list but is not valid JSON.") from None
        if not isinstance(keys, list):
            raise CommandError(f"{source} must hold a JSON list of keys.")
        return keys
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    return lines if len(lines) > 1 else value
