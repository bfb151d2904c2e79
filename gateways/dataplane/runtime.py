"""The in-memory configuration a gateway process serves, and the thread that keeps it fresh.

A ``Snapshot`` is built from ``gateway_runtime_config`` and never mutated; a reload builds a
new one and swaps the store's reference, so the request path reads it without locks. The
watcher polls the configuration revision every ~200 ms (plus Redis pub/sub when configured);
when the database is unreachable the old snapshot keeps serving until it comes back.
"""

import contextlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis
from django.conf import settings
from django.db import close_old_connections, connection

from core.revision import NOTIFY_CHANNEL, current_config_revision
from deployments.selectors import gateway_runtime_config
from gateways.dataplane.adapters import adapter_for
from gateways.dataplane.chain import FilterChain
from gateways.dataplane.health import CIRCUITS_CHANNEL
from gateways.dataplane.routes import KeyRecord, Route
from gateways.selectors import gateway_get
from proxies.crypto import hash_secret

log = logging.getLogger("gatehouse.gateway")

POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class Snapshot:
    gateway: str
    revision: int
    routes: dict[str, Route] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    foreign_keys: frozenset[str] = frozenset()
    # Whether the gateway has registration tokens (any, even all revoked): its processes must
    # then hold an active one (``token_hashes``) to serve, and the operational endpoints ask
    # for one. A gateway that never had any serves without.
    tokens_required: bool = False
    token_hashes: frozenset[str] = frozenset()
    # Why this process serves nothing (its token was revoked or never valid), else "".
    refused: str = ""


def token_accepted(token: str | None, hashes: frozenset[str]) -> bool:
    """Whether ``token`` is one of the gateway's active registration tokens (constant time
    per comparison; a gateway has at most two)."""
    if not token:
        return False
    digest = hash_secret(token)
    return any(hmac.compare_digest(digest, known) for known in hashes)


def registration_refusal(
    gateway_id: str, token: str | None, required: bool, hashes: frozenset[str]
) -> str:
    """Why a process holding ``token`` may not serve ``gateway_id``, or "" when it may."""
    if not required or token_accepted(token, hashes):
        return ""
    if not token:
        return (
            f"Gateway '{gateway_id}' has registration tokens; start its processes with one "
            "in GATEHOUSE_GATEWAY_TOKEN."
        )
    return f"The registration token of this process is not active for gateway '{gateway_id}'."


# Compiles a route's filter chain from its deployment (see ``SnapshotStore``).
ChainCompiler = Callable[[Route, dict[str, Any]], FilterChain]


def build_snapshot(
    config: dict[str, Any],
    compile_chain: ChainCompiler,
    chains: dict[str, FilterChain] | None = None,
) -> Snapshot:
    """Compile a runtime configuration (see ``gateway_runtime_config``) into routes and keys.

    A deployment's snapshot never changes, so ``chains`` caches compiled filter chains by
    deployment ID across reloads; it is updated to hold exactly this snapshot's."""
    credentials = config.get("credentials") or {}
    previous = chains if chains is not None else {}
    compiled: dict[str, FilterChain] = {}
    routes: dict[str, Route] = {}
    for deployment in config.get("deployments") or []:
        provider = deployment["snapshot"]["provider"]
        route = Route(deployment, credentials, adapter_for(provider))
        chain = previous.get(deployment["id"])
        if chain is None:
            chain = compile_chain(route, deployment)
        compiled[deployment["id"]] = route.chain = chain
        routes[route.proxy] = route
    if chains is not None:
        chains.clear()
        chains.update(compiled)
    keys = {
        k["hash"]: KeyRecord(
            id=k["id"], key_hash=k["hash"], proxy=k["proxy"], expires_at=k.get("expires_at")
        )
        for k in config.get("keys") or []
        if k["proxy"] in routes
    }
    return Snapshot(
        gateway=config["gateway"]["id"],
        revision=int(config.get("revision") or 0),
        routes=routes,
        keys=keys,
        foreign_keys=frozenset(config.get("other_gateway_keys") or ()),
        tokens_required=bool(config.get("tokens_required")),
        token_hashes=frozenset(config.get("token_hashes") or ()),
    )


def load_config(gateway_id: str) -> dict[str, Any]:
    """Read the gateway's configuration from the database (blocking; call off the loop)."""
    return gateway_runtime_config(gateway_get(gateway_id))


def read_revision() -> int:
    return current_config_revision()


class SnapshotStore:
    """Holds the current snapshot; ``current`` is swapped atomically on reload."""

    def __init__(
        self,
        gateway_id: str,
        compile_chain: ChainCompiler,
        *,
        on_reload: Callable[[Snapshot], None] | None = None,
        token: str | None = None,
    ):
        self.gateway_id = gateway_id
        self.compile_chain = compile_chain
        self.token = token  # this process's registration token, if it was given one
        # Told (target, until) of a circuit another process opened (from the listener's
        # thread), when Redis announces them.
        self.on_circuit: Callable[[str, float], None] | None = None
        # Called (off the event loop) after each successful reload, e.g. to refresh prices.
        self.on_reload = on_reload
        self.current = Snapshot(gateway=gateway_id, revision=-1)
        # When the configuration was last read from the database (0: never).
        self.checked_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._listener: threading.Thread | None = None
        self._chains: dict[str, FilterChain] = {}

    def reload(self) -> bool:
        """Rebuild from the database; False (old snapshot kept) when it is unreachable."""
        try:
            config = load_config(self.gateway_id)
        except Exception as exc:
            self._database_failed(exc)
            return False
        self._database_recovered()
        self.checked_at = time.time()
        snapshot = build_snapshot(config, self.compile_chain, self._chains)
        refused = registration_refusal(
            self.gateway_id, self.token, snapshot.tokens_required, snapshot.token_hashes
        )
        if refused:
            if not self.current.refused:
                log.error("gateway %s: serving nothing: %s", self.gateway_id, refused)
            snapshot = Snapshot(
                gateway=snapshot.gateway,
                revision=snapshot.revision,
                tokens_required=True,
                token_hashes=snapshot.token_hashes,
                refused=refused,
            )
        elif self.current.refused:
            log.warning("gateway %s: registration token accepted again", self.gateway_id)
        if self.on_reload is not None:
            # Before the swap, so whatever serves the new revision sees what it refreshed.
            try:
                self.on_reload(snapshot)
            except Exception:
                log.exception("gateway %s: refreshing after a reload failed", self.gateway_id)
        self.current = snapshot
        return True

    def check(self) -> None:
        """Reload when the configuration revision moved (one cheap query)."""
        try:
            revision = read_revision()
        except Exception as exc:
            self._database_failed(exc)
            return
        if revision != self.current.revision or self._failing:
            self.reload()
        else:
            self.checked_at = time.time()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gatehouse-config", daemon=True)
        self._thread.start()
        if settings.REDIS_URL:
            self._listener = threading.Thread(
                target=self._listen_redis, name="gatehouse-config-notify", daemon=True
            )
            self._listener.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.check()
        connection.close()

    def _listen_redis(self) -> None:
        """Wake the watcher as soon as a change is announced (polling stays the safety net),
        and hand circuits other processes opened to ``on_circuit``."""
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(NOTIFY_CHANNEL, CIRCUITS_CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["channel"] == CIRCUITS_CHANNEL.encode():
                        if self.on_circuit is not None:
                            opened = orjson.loads(message["data"])
                            self.on_circuit(opened["target"], float(opened["until"]))
                    else:
                        self._wake.set()
            except Exception:
                self._stop.wait(2.0)

    def _database_failed(self, exc: Exception) -> None:
        if not self._failing:
            log.warning(
                "gateway %s: cannot load its configuration (%s); serving the last "
                "snapshot (revision %s) and retrying",
                self.gateway_id,
                type(exc).__name__,
                self.current.revision,
            )
            self._failing = True
        # Drop the broken connection so the next attempt opens a fresh one.
        with contextlib.suppress(Exception):
            connection.close()

    def _database_recovered(self) -> None:
        if self._failing:
            log.warning("gateway %s: configuration database reachable again", self.gateway_id)
            self._failing = False
        close_old_connections()
