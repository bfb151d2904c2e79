"""Run the all-in-one server: admin, management API and invoke endpoint on one port."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the admin, the management API and the default gateway's invoke endpoint."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        import uvicorn

        uvicorn.run("config.asgi:application", host=host, port=port, log_level="info")
