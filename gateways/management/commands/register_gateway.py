"""Register a gateway and print its ID (and, with --token, a registration token)."""

from django.db import transaction

from core.commands import ServiceCommand
from gateways import services


class Command(ServiceCommand):
    help = (
        "Register a gateway and print its ID. With --token a second stdout line holds a "
        "registration token for its gateway processes, shown once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--base-url", required=True, help="Where applications reach it, e.g. https://gw.io"
        )
        parser.add_argument("--description", default="")
        parser.add_argument("--environment", default="", help="A label (default production).")
        parser.add_argument("--token", action="store_true", help="Also issue a token.")

    def run(self, *args, **options) -> None:
        with transaction.atomic():
            gateway = services.gateway_create(
                name=options["name"],
                base_url=options["base_url"],
                description=options["description"],
                environment=options["environment"],
            )
            token = services.gateway_token_create(gateway=gateway) if options["token"] else None
        self.emit(gateway.slug)
        if token is not None:
            record, secret = token
            self.emit(secret)
            self.note(f"Token {record.masked} for gateway {gateway.slug}: shown once, store it.")
        self.note(f"Gateway {gateway.slug} is Not Active until a gateway process serves it.")
