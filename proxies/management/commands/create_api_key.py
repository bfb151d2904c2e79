"""Generate an API key for a proxy and print it once."""

from datetime import datetime, time, timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from gateways.selectors import gateway_get
from proxies import services
from proxies.management.commands._base import ServiceCommand, format_time
from proxies.selectors import proxy_get

DEFAULT_EXPIRY_DAYS = 90


class Command(ServiceCommand):
    help = (
        "Generate an API key for PROXY and print it once on stdout (only its hash is stored). "
        f"Keys expire after {DEFAULT_EXPIRY_DAYS} days unless told otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("proxy", metavar="PROXY", help="Proxy ID.")
        parser.add_argument("--name", required=True, help="A label, e.g. the calling app.")
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument(
            "--expires-in-days",
            type=int,
            metavar="D",
            help=f"Expire D days from now (default {DEFAULT_EXPIRY_DAYS}).",
        )
        expiry.add_argument(
            "--expires-at",
            metavar="WHEN",
            help="Expire at an ISO 8601 date or date-time (a date means its start, local time).",
        )
        expiry.add_argument("--no-expiry", action="store_true", help="The key never expires.")
        parser.add_argument(
            "--gateway",
            dest="gateways",
            action="extend",
            nargs="+",
            default=[],
            metavar="G",
            help="Accept the key only on these gateways (IDs); default: every gateway.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the key with its id, masked form and expiry as JSON.",
        )

    def run(self, *args, proxy: str, name: str, gateways: list[str], **options) -> None:
        target = proxy_get(proxy)
        allowed = [gateway_get(slug) for slug in dict.fromkeys(gateways)]
        key, secret = services.api_key_create(
            proxy=target, name=name, expires_at=_expiry(options), gateways=allowed
        )
        if options["json"]:
            self.emit_json(
                {
                    "id": str(key.pk),
                    "key": secret,
                    "masked": key.masked,
                    "proxy": target.slug,
                    "name": key.name,
                    "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                    "gateways": [g.slug for g in allowed],
                }
            )
        else:
            self.emit(secret)
        expires = format_time(key.expires_at) if key.expires_at else "never"
        self.note(
            f"Key {key.pk} ({key.masked}) for proxy {target.slug}, expires {expires}: "
            "shown once, store it now."
        )


def _expiry(options: dict) -> datetime | None:
    if options["no_expiry"]:
        return None
    if options["expires_at"]:
        return _parse_when(options["expires_at"])
    days = options["expires_in_days"]
    return timezone.now() + timedelta(days=DEFAULT_EXPIRY_DAYS if days is None else days)


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
