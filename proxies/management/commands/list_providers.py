"""List providers."""

from core.commands import ServiceCommand, format_time
from proxies.models import Provider
from proxies.selectors import provider_list


class Command(ServiceCommand):
    help = "List providers: ID, name, template, upstream URL, whether a credential is set."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def run(self, *args, **options) -> None:
        providers = list(provider_list())
        if options["json"]:
            self.emit_json(
                [
                    {
                        "id": p.slug,
                        "name": p.name,
                        "template": p.template.slug,
                        "upstream_url": p.upstream_url,
                        "has_credential": p.has_credential,
                        "credential_keys": p.credential_key_count,
                        "updated_at": p.updated_at,
                    }
                    for p in providers
                ]
            )
            return
        self.emit_table(
            ["ID", "NAME", "TEMPLATE", "UPSTREAM URL", "CREDENTIAL", "UPDATED"],
            [
                (
                    p.slug,
                    p.name,
                    p.template.slug,
                    p.upstream_url,
                    _credential(p),
                    format_time(p.updated_at),
                )
                for p in providers
            ],
        )


def _credential(provider: Provider) -> str:
    if not provider.has_credential:
        return "-"
    count = provider.credential_key_count
    return f"{count} keys" if count > 1 else "set"
