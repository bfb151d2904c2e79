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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from gateways.dataplane.adapters import ProviderAdapter, adapter_for
from gateways.routing import KeyRecord, Route
from guardrails.engine import EMPTY_CHAIN, Chain, ChainCompileError, compile_chain
from guardrails.limits import NO_LIMITS, LimitSet, compile_limits
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


# A deployment's snapshot never changes, so its compiled chain and limits are reused across
# reloads: (guardrail chain, why it could not be compiled or None, rate limits).
CompiledChain = tuple[Chain, str | None, LimitSet]


def compile_route_chain(deployment: dict[str, Any], adapter: ProviderAdapter) -> CompiledChain:
    """The deployment's guardrail chain and rate limits (the proxy's and the provider's), or
    the empty chain and why it could not be compiled.

    A broken chain affects only its own route (which then refuses requests), never the rest
    of the gateway."""
    snapshot = deployment["snapshot"]
    guardrails = snapshot.get("guardrails") or {}
    try:
        proxy = [adapter.guardrail_attachment(a) for a in guardrails.get("proxy") or []]
        provider = [adapter.guardrail_attachment(a) for a in guardrails.get("provider") or []]
        return compile_chain(proxy, provider), None, compile_limits(proxy, provider)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, ChainCompileError) else type(exc).__name__
        log.error(
            "deployment %s of proxy %s: guardrails could not be compiled (%s); the proxy "
            "answers 503 until it is redeployed",
            deployment.get("id"),
            snapshot["proxy"]["id"],
            detail,
        )
        return EMPTY_CHAIN, detail, NO_LIMITS


def build_snapshot(
    config: dict[str, Any], chains: dict[str, CompiledChain] | None = None
) -> Snapshot:
    """Compile a runtime configuration (see ``gateway_runtime_config``) into routes and keys.

    ``chains`` caches compiled guardrail chains by deployment ID across reloads; it is
    updated to hold exactly the deployments of this snapshot."""
    credentials = config.get("credentials") or {}
    previous = chains if chains is not None else {}
    compiled: dict[str, CompiledChain] = {}
    routes: dict[str, Route] = {}
    for deployment in config.get("deployments") or []:
        provider = deployment["snapshot"]["provider"]
        adapter = adapter_for(provider)
        chain = previous.get(deployment["id"])
        if chain is None:
            chain = compile_route_chain(deployment, adapter)
        compiled[deployment["id"]] = chain
        route = Route(
            deployment,
            credentials.get(provider["id"], ""),
            adapter=adapter,
            chain=chain[0],
            chain_error=chain[1],
            limits=chain[2],
        )
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


def load_snapshot(gateway_id: str, chains: dict[str, CompiledChain] | None = None) -> Snapshot:
    """Read the gateway's configuration from the database (blocking; call off the loop)."""
    from deployments.selectors import gateway_runtime_config
    from gateways.selectors import gateway_get

    return build_snapshot(gateway_runtime_config(gateway_get(gateway_id)), chains)


def read_revision() -> int:
    from deployments.revision import current_config_revision

    return current_config_revision()


class SnapshotStore:
    """Holds the current snapshot; ``current`` is swapped atomically on reload."""

    def __init__(
        self,
        gateway_id: str,
        on_reload: Callable[[Snapshot], None] | None = None,
        token: str | None = None,
    ):
        self.gateway_id = gateway_id
        self.token = token  # this process's registration token, if it was given one
        # Called (off the event loop) after each successful reload, e.g. to refresh prices.
        self.on_reload = on_reload
        self.current = Snapshot(gateway=gateway_id, revision=-1)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._listener: threading.Thread | None = None
        self._chains: dict[str, CompiledChain] = {}

    def reload(self) -> bool:
        """Rebuild from the database; False (old snapshot kept) when it is unreachable."""
        try:
            snapshot = load_snapshot(self.gateway_id, self._chains)
        except Exception as exc:
            self._database_failed(exc)
            return False
        self._database_recovered()
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
        """Wake the watcher as soon as a change is announced; polling stays the safety net."""
        from deployments.revision import NOTIFY_CHANNEL

        while not self._stop.is_set():
            try:
                import redis

                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(NOTIFY_CHANNEL)
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0):
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
