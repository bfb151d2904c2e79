"""Run a gateway process: the invoke endpoint of one gateway, under uvicorn (uvloop +
httptools), with N worker processes each holding its own snapshot and connection pool.

On SIGTERM (or SIGINT) the process drains: it stops listening at once, so new connections are
refused (a load balancer passes them to another gateway), closes idle keep-alive connections
(a connection accepted just before, its first request still on its way, is served first; see
``gateways.dataplane.frontdoor``),
lets the requests and streams in flight finish for up to ``--graceful-timeout`` seconds (then
cuts them, recording them as cancelled by ``server_shutdown``), writes every usage record and
exits 0.
"""

import logging
import os
import shutil
import signal
import tempfile
from types import FrameType

import uvicorn
from django.core.management.base import BaseCommand, CommandError
from uvicorn.supervisors import Multiprocess

from gateways.dataplane.runtime import registration_refusal
from gateways.errors import GatewayNotFound
from gateways.metrics import MULTIPROCESS_DIR, prepare_multiprocess_dir
from gateways.selectors import gateway_get, gateway_token_hashes, gateway_tokens_required

# uvicorn's httptools protocol with header, timeout and connection limits.
FRONT_DOOR = "gateways.dataplane.frontdoor:FrontDoorProtocol"


class Command(BaseCommand):
    help = "Serve one gateway's deployments (the invoke endpoint) on HOST:PORT."
    # The gateway serves its own lean ASGI app; a check failing in the admin or the API
    # (which it never loads) must not keep it from starting.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("gateway", help="Gateway ID (slug).")
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument(
            "--access-log",
            action="store_true",
            help="Log every request as a JSON line on stdout (off by default; never the query "
            "string, which may carry a key).",
        )
        parser.add_argument(
            "--graceful-timeout",
            type=float,
            default=30.0,
            help="Seconds in-flight requests get to finish on SIGTERM before they are cut.",
        )
        parser.add_argument(
            "--ssl-certfile",
            help="Serve HTTPS with this certificate (PEM), where no load balancer in front "
            "ends TLS: SDKs send bearer keys over HTTPS only.",
        )
        parser.add_argument("--ssl-keyfile", help="The certificate's private key (PEM).")
        parser.add_argument("--log-level", default="info")

    def handle(self, *args, gateway, host, port, workers, access_log, graceful_timeout, **opts):
        if bool(opts["ssl_certfile"]) != bool(opts["ssl_keyfile"]):
            raise CommandError("--ssl-certfile and --ssl-keyfile go together.")
        for flag in ("ssl_certfile", "ssl_keyfile"):
            if opts[flag] and not os.path.isfile(opts[flag]):
                raise CommandError(f"--{flag.replace('_', '-')}: there is no file {opts[flag]}.")
        try:
            found = gateway_get(gateway)
        except GatewayNotFound as exc:
            raise CommandError(exc.message) from None
        token = os.environ.get("GATEHOUSE_GATEWAY_TOKEN") or None
        refused = registration_refusal(
            gateway,
            token,
            gateway_tokens_required(found),
            frozenset(gateway_token_hashes(found)),
        )
        if refused:
            raise CommandError(refused)
        os.environ["GATEHOUSE_GATEWAY"] = gateway
        if access_log:
            os.environ["GATEHOUSE_ACCESS_LOG"] = "1"  # for worker processes' settings
            logging.getLogger("gatehouse.access").setLevel(logging.INFO)  # and this one
        created = None
        if workers > 1:
            # Each worker keeps its metrics in files here, so a scrape answered by any of
            # them reports all of them (set before the workers start and import the client).
            directory = os.environ.get(MULTIPROCESS_DIR)
            if not directory:
                directory = created = tempfile.mkdtemp(prefix="gatehouse-metrics-")
            prepare_multiprocess_dir(directory)
            os.environ[MULTIPROCESS_DIR] = directory
        try:
            self._serve(host, port, workers, graceful_timeout, opts)
        finally:
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)

    def _serve(self, host, port, workers, graceful_timeout, opts) -> None:
        config = uvicorn.Config(
            "gateways.asgi:application",
            host=host,
            port=port,
            workers=max(workers, 1),
            loop="uvloop",
            http=FRONT_DOOR,
            lifespan="on",
            # The gateway writes its own access log (GATEHOUSE_ACCESS_LOG): uvicorn's would
            # print query strings, where a proxy may take its callers' keys.
            access_log=False,
            log_level=opts["log_level"],
            timeout_graceful_shutdown=graceful_timeout,
            ssl_certfile=opts["ssl_certfile"],
            ssl_keyfile=opts["ssl_keyfile"],
            server_header=False,
            date_header=False,
            # Nothing on the gateway uses the client address; skip parsing X-Forwarded-For.
            proxy_headers=False,
        )
        if config.workers > 1:
            WorkerSupervisor(config, sockets=[config.bind_socket()]).run()
            return
        # uvicorn drains on SIGTERM, then raises the signal again with the handler it found
        # installed, so that the process ends killed by it; a gateway that drained stopped as
        # asked, and exits 0 instead.
        for stop in STOP_SIGNALS:
            signal.signal(stop, drained)
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise CommandError("The gateway did not start; the lines above say why.")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def drained(signum: int, frame: FrameType | None) -> None:
    """What a stop signal does once uvicorn has drained and handed it back: nothing more."""


class WorkerSupervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, which stops listening as soon as it is told to
    stop. The listening socket is shared by the supervisor and its workers; the workers close
    their copies when they begin draining, but while the supervisor kept its own, the kernel
    went on accepting connections that no worker would ever serve (reset when the supervisor
    exited, after the drain) instead of refusing them."""

    def __init__(self, config: uvicorn.Config, sockets: list) -> None:
        super().__init__(config, sockets)
        for stop in STOP_SIGNALS:
            signal.signal(stop, self.stop_listening)

    def stop_listening(self, signum: int, frame: FrameType | None) -> None:
        for sock in self.sockets:
            sock.close()
        self.signal_queue.append(signum)  # the supervisor's own handling: stop the workers
