"""The upstream credential on the command line: read from an environment variable (so it
stays out of shell history and the process list) or, if need be, given as a value. For AWS
Bedrock it may be the JSON text of an object of AWS keys (``{"aws_access_key_id": ...}``)."""

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


def credential_from_options(options: dict[str, Any]) -> str | None:
    """The credential given on the command line, ``None`` when neither option was used."""
    variable = options.get("credential_env")
    if variable:
        value = os.environ.get(variable, "").strip()
        if not value:
            raise CommandError(f"Environment variable {variable} is not set or is empty.")
        return value
    value = options.get("credential")
    if value is not None and not value.strip():
        raise CommandError("The credential must not be empty.")
    return value.strip() if value is not None else None
