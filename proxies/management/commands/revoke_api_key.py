"""Revoke an API key of a proxy; every gateway rejects it within a second."""

from core.commands import ServiceCommand
from proxies import services
from proxies.selectors import api_key_get, proxy_get


class Command(ServiceCommand):
    help = "Revoke the API key KEY_ID (see list_api_keys) of PROXY."

    def add_arguments(self, parser):
        parser.add_argument("proxy", metavar="PROXY", help="Proxy ID.")
        parser.add_argument("key_id", metavar="KEY_ID", help="The key's id (a UUID).")

    def run(self, *args, proxy: str, key_id: str, **options) -> None:
        key = api_key_get(proxy=proxy_get(proxy), key_id=key_id)
        services.api_key_revoke(api_key=key)
        self.note(f"Revoked key {key.pk} ({key.name}, {key.masked}).")
