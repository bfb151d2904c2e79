"""List proxies."""

from core.commands import ServiceCommand, format_time
from proxies.selectors import proxy_list


class Command(ServiceCommand):
    help = "List proxies: Proxy ID, name, provider, version, context."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def run(self, *args, **options) -> None:
        proxies = list(proxy_list())
        if options["json"]:
            self.emit_json(
                [
                    {
                        "id": p.slug,
                        "name": p.name,
                        "provider": p.provider.slug,
                        "version": p.version,
                        "context": p.context,
                        "updated_at": p.updated_at,
                    }
                    for p in proxies
                ]
            )
            return
        self.emit_table(
            ["ID", "NAME", "PROVIDER", "VERSION", "CONTEXT", "UPDATED"],
            [
                (p.slug, p.name, p.provider.slug, p.version, p.context, format_time(p.updated_at))
                for p in proxies
            ],
        )
