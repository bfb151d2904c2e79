"""Generate an API key for a proxy and print it once."""

from core.commands import (
    ServiceCommand,
    add_expiry_arguments,
    expiry_from_options,
    format_time,
)
from gateways.selectors import gateway_get
from proxies import services
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
        add_expiry_arguments(parser, what="key", default_days=DEFAULT_EXPIRY_DAYS)
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
            proxy=target,
            name=name,
            expires_at=expiry_from_options(options, default_days=DEFAULT_EXPIRY_DAYS),
            gateways=allowed,
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
