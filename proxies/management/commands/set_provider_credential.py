"""Rotate a provider's upstream credential; running gateways pick it up without a redeploy."""

from core.commands import ServiceCommand
from proxies import services
from proxies.management.credentials import add_credential_arguments, credential_from_options
from proxies.selectors import provider_get


class Command(ServiceCommand):
    help = (
        "Set or rotate the upstream credential of PROVIDER (its ID). Gateways use the new "
        "credential within seconds, without a redeploy."
    )

    def add_arguments(self, parser):
        parser.add_argument("provider", metavar="PROVIDER", help="Provider ID.")
        add_credential_arguments(parser, required=True)

    def run(self, *args, provider: str, **options) -> None:
        target = provider_get(provider)
        services.provider_set_credential(
            provider=target, credential=credential_from_options(options)
        )
        self.note(f"Credential of provider {target.slug} updated.")
