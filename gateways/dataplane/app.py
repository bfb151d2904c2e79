"""The gateway's ASGI application: the invoke endpoint of one gateway.

A bare ASGI callable: it reads the scope directly, looks everything up in the in-memory
snapshot, runs the route's filter chain and relays with one pooled HTTP client per process.
Lifespan startup creates the rate limiter and the client, loads the snapshot and starts the
config watcher, heartbeat and usage writer; shutdown flushes usage and removes this process's
heartbeat row.
"""

import asyncio
import logging
import time

import aiohttp
import orjson
from django.conf import settings

from core.egress import PublicResolver, parse_networks
from core.revision import publish
from gateways.dataplane import access_log, ops
from gateways.dataplane.adapters import neutral_error_body
from gateways.dataplane.attempts import call_upstream
from gateways.dataplane.call import Call, Outcome, Refusal, stray_row
from gateways.dataplane.chain import FilterChain
from gateways.dataplane.filters import compile_chain
from gateways.dataplane.health import CIRCUITS_CHANNEL, Health, circuit_report
from gateways.dataplane.heartbeat import Heartbeat
from gateways.dataplane.observe import Observer
from gateways.dataplane.paths import split_proxy
from gateways.dataplane.relay import answer_with
from gateways.dataplane.request import forward_headers, resolve_path
from gateways.dataplane.routes import Route
from gateways.dataplane.runtime import Snapshot, SnapshotStore
from gateways.dataplane.tracing import end_call_span, start_call_span, tracer_from_environment
from gateways.metrics import (
    OPEN_CIRCUITS,
    SNAPSHOT_AGE,
    SNAPSHOT_REVISION,
    USAGE_DROPPED,
    USAGE_QUEUE,
)
from gateways.usage import UsageWriter
from guardrails.catalog.url_checks import close_url_check_client
from guardrails.limits import Limiter
from guardrails.selectors import price_table

log = logging.getLogger("gatehouse.gateway")

FAILED = Refusal(
    500, "internal_error", "The gateway failed to handle this request.", outcome=Outcome.FAILED
)


class GatewayApp:
    """Serves the deployments of one gateway."""

    def __init__(self, gateway_id: str, *, heartbeat: bool = True, token: str | None = None):
        self.gateway_id = gateway_id
        self.store = SnapshotStore(
            gateway_id, self.compile_chain, on_reload=self.refresh_prices, token=token
        )
        self.usage = UsageWriter(gateway_id)
        self.heartbeat = Heartbeat(
            gateway_id,
            lambda: self.store.current.revision,
            serving=lambda: not self.store.current.refused,
            on_tick=self.refresh_gauges,
            circuits=self.circuits,
        )
        self.beats = heartbeat
        self.max_body = settings.GATEHOUSE_MAX_BODY_BYTES
        # Where upstreams may live besides the public internet (checked again at connect time).
        self.allowed_networks = parse_networks(settings.GATEHOUSE_ALLOWED_PRIVATE_NETWORKS)
        self.session: aiohttp.ClientSession | None = None
        # What this process knows of the health of what it calls (circuits, resting keys,
        # suspended models), kept across reloads.
        self.health = Health()
        self.observer = Observer(gateway_id)
        # OpenTelemetry, when the OTEL_* variables turn it on (None: off, and free).
        self.tracer = tracer_from_environment()
        self.limiter: Limiter | None = None
        self.starting = asyncio.Lock()
        self.draining = False  # shutdown began: no longer ready

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            if self.session is None:
                await self.startup()
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    # --- requests ----------------------------------------------------------------------------

    async def handle(self, scope, receive, send) -> None:
        """Find the route, check the path and headers, run the route's filters, call the
        upstream and relay its answer, and record the call."""
        snapshot = self.store.current
        proxy_id, rest = split_proxy(scope.get("raw_path") or scope["path"].encode())
        route = snapshot.routes.get(proxy_id)
        if route is None:
            await self.without_route(scope, send, snapshot, proxy_id, rest)
            return
        call = Call(scope, receive, send, snapshot, route, scope["method"])
        if self.tracer is not None:
            call.tracer, call.span = self.tracer, start_call_span(self.tracer, scope)
        chain: FilterChain = route.chain
        try:
            refusal = resolve_path(call, rest) or forward_headers(call)
            if refusal is None:
                refusal = await chain.run_request(call)
            if refusal is not None:
                await answer_with(call, refusal)
            else:
                await call_upstream(self.session, call, chain, self.health)
        except Exception:
            log.exception("gateway %s: request to %s failed", self.gateway_id, route.proxy)
            if call.response_started:
                call.refused(FAILED)
            else:
                await answer_with(call, FAILED)
        finally:
            # Priced once, before the filters' ends: the cost budgets settle this very cost.
            call.price(self.limiter.prices)
            await chain.run_end(call)
            self.record(call)
            if call.span is not None:
                end_call_span(call.span, call, self.gateway_id)

    async def without_route(
        self, scope, send, snapshot: Snapshot, proxy_id: str, rest: bytes
    ) -> None:
        """A path that names no proxy here: an operational endpoint, or 404 / 503."""
        if proxy_id == ops.PREFIX and await ops.serve(scope, send, snapshot, rest, self.readiness):
            return
        if snapshot.refused:
            status, code, message = 503, "gateway_not_registered", snapshot.refused
        else:
            status, code, message = 404, "not_found", f"No proxy '{proxy_id}' on this gateway."
        started, wall = time.perf_counter(), time.time()
        await ops.respond(send, status, neutral_error_body(status, code, message))
        row = stray_row(
            proxy=proxy_id,
            method=scope["method"],
            resource=rest.decode("latin-1"),
            status=status,
            reason="not_registered" if snapshot.refused else "no_route",
            wall=wall,
            started=started,
        )
        self.usage.record(row)

    async def readiness(self) -> tuple[bool, dict]:
        """Whether this process can serve, and why not (see ``ops``)."""
        snapshot = self.store.current
        reasons = []
        if snapshot.revision < 0:
            reasons.append("no configuration loaded yet")
        if snapshot.refused:
            reasons.append(snapshot.refused)
        if self.draining:
            reasons.append("shutting down")
        needs_store = any(
            step.name == "rate-limits" and step.limits.fails_closed
            for route in snapshot.routes.values()
            for step in route.chain.filters
        )
        if needs_store and not await self.limiter.store_reachable():
            reasons.append("the rate-limit store does not answer")
        checked = self.store.checked_at
        details = {
            "gateway": self.gateway_id,
            "revision": snapshot.revision,
            "config_age_seconds": round(time.time() - checked, 1) if checked else None,
        }
        if reasons:
            details["reasons"] = reasons
        return not reasons, details

    def record(self, call: Call) -> None:
        """The call's usage row, its key's last use and its access-log line."""
        row = call.usage_row()
        self.usage.record(row)
        self.observer.call_ended(call, self.limiter.prices, row.latency_ms / 1000)
        if call.key is not None:
            self.usage.touch_key(call.key.key_hash, call.wall)
        if access_log.enabled():
            access_log.write(self.gateway_id, call, row)

    # --- the route's chain -------------------------------------------------------------------

    def compile_chain(self, route: Route, deployment: dict) -> FilterChain:
        return compile_chain(
            route,
            deployment,
            limiter=self.limiter,
            health=self.health,
            max_body=self.max_body,
            allowed_networks=self.allowed_networks,
            gateway=self.gateway_id,
        )

    def refresh_prices(self, snapshot: Snapshot) -> None:
        """After a reload (off the event loop): the admin-editable prices, which price every
        call's usage and the cost budgets."""
        if self.limiter is not None:
            self.limiter.prices = price_table()

    def refresh_gauges(self) -> None:
        """The process's gauges (from the heartbeat's thread, every second)."""
        gateway = self.gateway_id
        SNAPSHOT_REVISION.labels(gateway).set(self.store.current.revision)
        if self.store.checked_at:
            SNAPSHOT_AGE.labels(gateway).set(time.time() - self.store.checked_at)
        USAGE_QUEUE.labels(gateway).set(len(self.usage.pending))
        USAGE_DROPPED.labels(gateway).set(self.usage.dropped)
        open_circuits = sum(1 for name in list(self.health.circuits) if self.health.state(name))
        OPEN_CIRCUITS.labels(gateway).set(open_circuits)

    def circuits(self) -> list[dict]:
        """The circuits not simply closed and the models suspended, per proxy routing to
        them, for the heartbeat (the admin and the API show them). Runs on the heartbeat's
        thread: it reads the health state and never changes it."""
        entries = []
        for route in self.store.current.routes.values():
            entries.extend(circuit_report(route.proxy, route.attempt.name, self.health))
            for step in route.chain.filters:
                entries.extend(step.report(route, self.health))
        return entries

    def share_circuits(self, loop: asyncio.AbstractEventLoop) -> None:
        """Announce the circuits this process opens to every other one through Redis, and
        open here those they announce (the config listener hands them over from its thread)."""

        def announce(target: str, until: float) -> None:
            message = orjson.dumps({"target": target, "until": until})
            loop.run_in_executor(None, publish, CIRCUITS_CHANNEL, message)

        self.health.on_open = announce
        self.store.on_circuit = lambda target, until: loop.call_soon_threadsafe(
            self.health.open_remote, target, until
        )

    # --- lifespan ----------------------------------------------------------------------------

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        async with self.starting:
            if self.session is not None:
                return
            self.limiter = Limiter.from_settings()
            if settings.REDIS_URL:
                self.share_circuits(asyncio.get_running_loop())
            await asyncio.to_thread(self.store.reload)
            self.store.start()
            self.usage.start()
            if self.beats:
                self.heartbeat.start()
            connector = aiohttp.TCPConnector(
                limit=0,
                ttl_dns_cache=300,
                keepalive_timeout=30,
                resolver=PublicResolver(self.allowed_networks),
            )
            self.session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
            )
            log.info(
                "gateway %s serving %d proxies (revision %s)",
                self.gateway_id,
                len(self.store.current.routes),
                self.store.current.revision,
            )

    async def shutdown(self) -> None:
        self.draining = True
        self.store.stop()
        if self.limiter is not None:
            # Applies the settles already queued before closing the connection.
            try:
                await asyncio.wait_for(self.limiter.close(), timeout=5)
            except TimeoutError:
                log.warning("gateway %s: rate-limit settles pending at shutdown", self.gateway_id)
        await close_url_check_client()
        await asyncio.to_thread(self.usage.stop)
        if self.beats:
            await asyncio.to_thread(self.heartbeat.stop)
        if self.session is not None:
            await self.session.close()
            self.session = None
