"""What every Gatehouse management command shares: domain errors become a one-line message on
stderr and exit code 1, the primary value goes alone to stdout so scripts can capture it
(``ID=$(python manage.py create_proxy ...)``), and explanations go to stderr.
"""

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import DomainError


def one_line(message: str) -> str:
    """Collapse a message to one line; scripts and CI logs read errors line by line."""
    return " ".join(str(message).split())


class ServiceCommand(BaseCommand):
    """Base class: subclasses implement ``run`` and call services and selectors only."""

    def run(self, *args: Any, **options: Any) -> None:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.run(*args, **options)
        except DomainError as exc:
            raise CommandError(one_line(exc.message)) from None
        except CommandError as exc:
            raise CommandError(one_line(str(exc)), returncode=exc.returncode) from None

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Usage mistakes become CommandError too, reported in one line by run_from_argv below.
        parser.called_from_command_line = False
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
        except CommandError as exc:
            # Argument parsing errors get here (Django handles those raised while executing,
            # and re-raises them only for --traceback, which asks for the full story).
            if "--traceback" in argv:
                raise
            self.stderr.write(f"CommandError: {one_line(str(exc))} (see --help)")
            sys.exit(exc.returncode)

    # --- output -------------------------------------------------------------------------------

    def emit(self, value: Any) -> None:
        """The primary value, alone on its line of stdout."""
        self.stdout.write(str(value))

    def note(self, message: str) -> None:
        """An explanation for people, on stderr so captured stdout stays clean."""
        self.stderr.write(message)

    def emit_json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=_json_value))

    def emit_table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A plain aligned table on stdout; columns are separated by two spaces."""
        cells = [[str(h) for h in headers]] + [
            ["" if c is None else str(c) for c in row] for row in rows
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
        for row in cells:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


# --- shared arguments -----------------------------------------------------------------------


def add_expiry_arguments(parser, *, what: str, default_days: int) -> None:
    """``--expires-in-days D`` (default ``default_days``), ``--expires-at WHEN`` or
    ``--no-expiry``, at most one of them."""
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in-days",
        type=int,
        metavar="D",
        help=f"Expire D days from now (default {default_days}).",
    )
    expiry.add_argument(
        "--expires-at",
        metavar="WHEN",
        help="Expire at an ISO 8601 date or date-time (a date means its start, local time).",
    )
    expiry.add_argument("--no-expiry", action="store_true", help=f"The {what} never expires.")


def expiry_from_options(options: dict[str, Any], *, default_days: int) -> datetime | None:
    """The expiry the options of ``add_expiry_arguments`` ask for; None never expires."""
    if options["no_expiry"]:
        return None
    if options["expires_at"]:
        return _parse_when(options["expires_at"])
    days = options["expires_in_days"]
    return timezone.now() + timedelta(days=default_days if days is None else days)


def _parse_when(text: str) -> datetime:
    try:
        when = parse_datetime(text)
        if when is None and (day := parse_date(text)) is not None:
            when = datetime.combine(day, time.min)
    except ValueError:
        when = None
    if when is None:
        raise CommandError(f"--expires-at '{text}' is not an ISO 8601 date or date-time.")
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def format_time(value) -> str:
    """A timestamp as people read it in a table: UTC, to the second."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
