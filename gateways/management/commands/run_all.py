"""Run the all-in-one server: admin, management API and invoke endpoint on one port, plus
the fake upstream the demo proxy points at, so everything works offline."""

import socket

import uvicorn
from django.core.management.base import BaseCommand

from gateways.fake_upstream import serve_in_thread
from gateways.management.commands.run_gateway import FRONT_DOOR


class Command(BaseCommand):
    help = "Serve the admin, the management API and the default gateway's invoke endpoint."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-fake-upstream", action="store_true")
        parser.add_argument("--fake-upstream-port", type=int, default=8090)

    def handle(self, *args, host, port, no_fake_upstream, fake_upstream_port, **options):
        if not no_fake_upstream:
            if _port_free("127.0.0.1", fake_upstream_port):
                serve_in_thread("127.0.0.1", fake_upstream_port)
                self.stdout.write(f"Fake upstream on http://127.0.0.1:{fake_upstream_port}")
            else:
                self.stdout.write(
                    f"Port {fake_upstream_port} is taken; not starting the fake upstream."
                )
        uvicorn.run(
            "config.asgi:application",
            host=host,
            port=port,
            log_level="info",
            lifespan="on",
            http=FRONT_DOOR,
        )


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0
