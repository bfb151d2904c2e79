"""Encrypt every stored provider credential again with the first GATEHOUSE_ENCRYPTION_KEY."""

from django.core.management.base import CommandError

from core.commands import ServiceCommand
from proxies import services


class Command(ServiceCommand):
    help = (
        "Encrypt every provider credential again with the first key of "
        "GATEHOUSE_ENCRYPTION_KEY (put a new key first, run this, then remove the old key). "
        "Fails, naming them, when a credential no configured key reads."
    )

    def run(self, *args, **options) -> None:
        done, unreadable = services.credentials_reencrypt()
        self.note(f"{done} credential{'s' if done != 1 else ''} re-encrypted with the first key.")
        if unreadable:
            raise CommandError(
                "No configured key reads the credential of: " + ", ".join(unreadable) + ". "
                "Add the key that encrypted them, or set those credentials again."
            )
