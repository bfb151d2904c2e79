"""Issue a registration token for an existing gateway and print it once."""

from core.commands import ServiceCommand
from gateways import services
from gateways.selectors import gateway_get


class Command(ServiceCommand):
    help = "Issue a registration token for GATEWAY (at most two active) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("gateway", metavar="GATEWAY", help="Gateway ID.")

    def run(self, *args, gateway: str, **options) -> None:
        target = gateway_get(gateway)
        token, secret = services.gateway_token_create(gateway=target)
        self.emit(secret)
        self.note(f"Token {token.pk} ({token.masked}) for gateway {target.slug}: shown once.")
