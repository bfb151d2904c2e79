"""The gateway process heartbeat: a background thread that keeps this process's row fresh so
the gateway reads Active, and deletes it on a clean stop so it reads Not Active at once."""

import contextlib
import logging
import os
import socket
import threading
import uuid

from django.conf import settings
from django.db import connection

from gateways.selectors import gateway_get
from gateways.services import gateway_process_heartbeat, gateway_process_stopped

log = logging.getLogger("gatehouse.gateway")


class Heartbeat:
    def __init__(
        self,
        gateway_id: str,
        revision_of=lambda: "",
        serving=lambda: True,
        on_tick=None,
        circuits=list,
    ):
        self.gateway_id = gateway_id
        self.instance_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.revision_of = revision_of
        # False while the process serves nothing (its registration token was revoked): it then
        # withdraws its row, so the gateway reads Not Active once no other process beats.
        self.serving = serving
        # Called every beat, database or not (the process's gauges).
        self.on_tick = on_tick
        # The routing targets this process sees failing, reported with each beat (the admin,
        # the API and show_routing read them); called from this thread, so it only reads.
        self.circuits = circuits
        self._withdrawn = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gateway = None
        self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gatehouse-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this process's row."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.withdraw()
        finally:
            connection.close()

    def withdraw(self) -> None:
        """Remove this process's row (it serves nothing from now on)."""
        try:
            gateway_process_stopped(instance_id=self.instance_id)
            self._withdrawn = True
        except Exception:
            log.warning("gateway %s: could not remove the process row", self.gateway_id)

    def beat(self) -> None:
        try:
            if self._gateway is None:
                self._gateway = gateway_get(self.gateway_id)
            gateway_process_heartbeat(
                gateway=self._gateway,
                instance_id=self.instance_id,
                hostname=socket.gethostname()[:255],
                pid=os.getpid(),
                snapshot_version=str(self.revision_of()),
                circuits=self.circuits(),
            )
        except Exception as exc:
            self._gateway = None
            if not self._failing:
                log.warning(
                    "gateway %s: heartbeat failed (%s); retrying",
                    self.gateway_id,
                    type(exc).__name__,
                )
                self._failing = True
            with contextlib.suppress(Exception):
                connection.close()
            return
        self._failing = False

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:
                    log.exception("gateway %s: refreshing the gauges failed", self.gateway_id)
            if self.serving():
                self._withdrawn = False
                self.beat()
            elif not self._withdrawn:
                self.withdraw()
            self._stop.wait(settings.GATEHOUSE_HEARTBEAT_INTERVAL)
        connection.close()
