"""List providers."""

from core.commands import ServiceCommand, format_time
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
                    "set" if p.has_credential else "-",
                    format_time(p.updated_at),
                )
                for p in providers
            ],
        )
