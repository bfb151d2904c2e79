"""Create a proxy and print its Proxy ID."""

from core.commands import ServiceCommand
from proxies import services
from proxies.selectors import provider_get


class Command(ServiceCommand):
    help = (
        "Create a proxy and print its Proxy ID. The provider defaults to the most recently "
        "updated one. Deploy it to a gateway before it serves traffic."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        # --version is the proxy's version here, not Django's.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--provider", help="Provider ID (default: most recently updated).")
        parser.add_argument("--version", dest="proxy_version", help="v<major>.<minor> (v1.0).")
        parser.add_argument("--description", default="")
        parser.add_argument("--context", help="Path under the Proxy ID, e.g. /chat (default /).")

    def run(self, *args, **options) -> None:
        provider = provider_get(options["provider"]) if options["provider"] else None
        proxy = services.proxy_create(
            name=options["name"],
            provider=provider,
            version=options["proxy_version"],
            description=options["description"],
            context=options["context"],
        )
        self.emit(proxy.slug)
        self.note(f"Proxy {proxy.slug} created on provider {proxy.provider.slug}.")
