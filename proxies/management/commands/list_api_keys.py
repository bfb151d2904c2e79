"""List the API keys of a proxy (masked; the keys themselves are never stored)."""

from core.commands import ServiceCommand, format_time
from proxies.models import APIKeyStatus
from proxies.selectors import api_key_list, proxy_get


class Command(ServiceCommand):
    help = "List the API keys of PROXY: id, name, masked key, status, expiry, last use."

    def add_arguments(self, parser):
        parser.add_argument("proxy", metavar="PROXY", help="Proxy ID.")
        parser.add_argument("--json", action="store_true")

    def run(self, *args, proxy: str, **options) -> None:
        keys = list(api_key_list(proxy=proxy_get(proxy)))
        if options["json"]:
            self.emit_json(
                [
                    {
                        "id": str(k.pk),
                        "name": k.name,
                        "masked": k.masked,
                        "status": k.status,
                        "usable": k.is_usable,
                        "expires_at": k.expires_at,
                        "last_used_at": k.last_used_at,
                        "gateways": [g.slug for g in k.gateways.all()],
                        "created_at": k.created_at,
                    }
                    for k in keys
                ]
            )
            return
        self.emit_table(
            ["ID", "NAME", "KEY", "STATUS", "EXPIRES", "LAST USED", "GATEWAYS"],
            [
                (
                    k.pk,
                    k.name,
                    k.masked,
                    _status(k),
                    format_time(k.expires_at) if k.expires_at else "never",
                    format_time(k.last_used_at),
                    ", ".join(g.slug for g in k.gateways.all()) or "all",
                )
                for k in keys
            ],
        )


def _status(key) -> str:
    if key.status == APIKeyStatus.ACTIVE and not key.is_usable:
        return "expired"
    return key.status
