"""Delete old usage records (retention)."""

from django.core.management.base import BaseCommand, CommandError

from gateways.services import usage_prune


class Command(BaseCommand):
    help = "Delete usage records older than N days."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, required=True)

    def handle(self, *args, older_than_days, **options):
        if older_than_days < 0:
            raise CommandError("--older-than-days must be 0 or more.")
        deleted = usage_prune(older_than_days=older_than_days)
        self.stdout.write(f"Deleted {deleted} usage records older than {older_than_days} days.")
