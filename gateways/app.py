"""The gateway's ASGI application: the invoke endpoint.

A bare ASGI callable: it reads the scope directly, looks everything up in the in-memory
snapshot, and relays with one pooled HTTP client per process. Lifespan startup creates the
rate limiter, loads the snapshot and starts the config watcher, heartbeat and usage writer;
shutdown flushes usage and removes this process's heartbeat row.

Rate limits are admitted after the request guardrails, just before the request is forwarded:
quotas count what reaches the upstream, so a request a guardrail blocks (or a proxy-level
refusal: bad key, model, body) consumes none, as in the reference where the provider's limits
run after the proxy's guardrails; and a cost reservation is estimated from the body actually
sent. The usage is settled once the response is sent, without waiting for the store.
"""

import asyncio
import gc
import logging
import time

import aiohttp
import orjson
from django.conf import settings

from gateways import metrics
from gateways.dataplane.adapters import neutral_error_body
from gateways.dataplane.paths import (
    BadPath,
    canonical_path,
    clean_query,
    split_proxy,
    take_query_param,
)
from gateways.dataplane.heartbeat import Heartbeat
from gateways.relay import (
    IDENTITY,
    REQUEST_DROP,
    Exchange,
    UpstreamFailure,
    connection_options,
    elapsed_ms,
    open_upstream,
    relay_response,
)
from gateways.routing import Refusal, Route, authenticate
from gateways.dataplane.runtime import SnapshotStore, token_accepted
from gateways.together import together
from gateways.usage import UsageWriter
from guardrails.engine import ChainResult
from guardrails.limits import Decision, LimitContext, Limiter, Reservation, load_price_table

log = logging.getLogger("gatehouse.gateway")

CHAIN_BROKEN = (
    "This proxy's guardrails could not be loaded, so it serves no requests; fix the "
    "guardrail settings and deploy it again."
)
NOT_JSON = "This proxy's guardrails inspect JSON request bodies; the body is not JSON."
TOO_DEEP = (
    "The request body is nested too deeply to be rewritten (more than 255 levels of arrays "
    "and objects)."
)
# Headers that carry a caller's key to one API or another: whichever the proxy reads its key
# from is taken out on its own; the others are never forwarded either.
KEY_HEADERS = frozenset({b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key"})
# ``/_gatehouse/health`` and ``/_gatehouse/metrics``: proxy IDs cannot contain "_", so these
# never shadow a proxy.
HEALTH_PREFIX = "_gatehouse"


def _model_message(model: str) -> str:
    if model:
        return f"Model '{model}' is not allowed on this proxy."
    return "This proxy only serves specific models; name one in the request."


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class GatewayApp:
    """Serves the deployments of one gateway."""

    def __init__(self, gateway_id: str, *, heartbeat: bool = True, token: str | None = None):
        self.gateway_id = gateway_id
        self.store = SnapshotStore(gateway_id, on_reload=self._refresh_prices, token=token)
        self.usage = UsageWriter(gateway_id)
        self.heartbeat = Heartbeat(
            gateway_id,
            lambda: self.store.current.revision,
            serving=lambda: not self.store.current.refused,
        )
        self.beats = heartbeat
        self.max_body = settings.GATEHOUSE_MAX_BODY_BYTES
        self.too_large: Refusal = (
            413,
            "request_too_large",
            f"The request body is larger than {self.max_body} bytes.",
            "",
        )
        self.session: aiohttp.ClientSession | None = None
        self._starting: asyncio.Lock | None = None
        self.limiter: Limiter | None = None

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http":
            if self.session is None:
                await self.startup()
            await self.handle(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

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
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.session is not None:
                return
            self.limiter = Limiter.from_settings()
            await asyncio.to_thread(self.store.reload)
            self.store.start()
            self.usage.start()
            if self.beats:
                self.heartbeat.start()
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
            )
            tune_collector(settings.GATEHOUSE_GC_THRESHOLD)
            log.info(
                "gateway %s serving %d proxies (revision %s)",
                self.gateway_id,
                len(self.store.current.routes),
                self.store.current.revision,
            )

    async def shutdown(self) -> None:
        self.store.stop()
        if self.limiter is not None:
            # Applies the settles already issued before closing the connection.
            try:
                await asyncio.wait_for(self.limiter.close(), timeout=5)
            except TimeoutError:
                log.warning("gateway %s: rate-limit settles pending at shutdown", self.gateway_id)
        await asyncio.to_thread(self.usage.stop)
        if self.beats:
            await asyncio.to_thread(self.heartbeat.stop)
        if self.session is not None:
            await self.session.close()
            self.session = None

    # --- requests ----------------------------------------------------------------------------

    async def handle(self, scope, receive, send) -> None:
        started = time.perf_counter()
        wall = time.time()
        snapshot = self.store.current
        method: str = scope["method"]
        proxy_id, rest = split_proxy(scope.get("raw_path") or scope["path"].encode())
        route = snapshot.routes.get(proxy_id)
        if route is None:
            rest_text = rest.decode("latin-1")
            if proxy_id == HEALTH_PREFIX and rest == b"/health":
                await _respond(send, 200, self._health(snapshot))
                return
            if proxy_id == HEALTH_PREFIX and rest == b"/metrics":
                if snapshot.tokens_required and not token_accepted(
                    bearer_token(scope["headers"]), snapshot.token_hashes
                ):
                    message = "The metrics need one of this gateway's registration tokens."
                    body = neutral_error_body(401, "invalid_token", message)
                    await _respond(send, 401, body)
                    return
                body = metrics.exposition()
                await _respond(send, 200, body, content_type=metrics.CONTENT_TYPE)
                return
            if snapshot.refused:
                body = neutral_error_body(503, "gateway_not_registered", snapshot.refused)
                await _respond(send, 503, body)
                self._record(
                    wall, started, proxy_id, None, None, method, rest_text, 503, "not_registered"
                )
                return
            body = neutral_error_body(404, "not_found", f"No proxy '{proxy_id}' on this gateway.")
            await _respond(send, 404, body)
            self._record(wall, started, proxy_id, None, None, method, rest_text, 404, "no_route")
            return
        adapter = route.adapter
        # Every check below reads the canonical path; the upstream gets the caller's raw
        # bytes for that same path (see gateways.dataplane.paths).
        try:
            path = canonical_path(rest, adapter.opaque_segment_after)
            query = clean_query(scope["query_string"])
        except BadPath as exc:
            refusal = (400, "invalid_path", str(exc), "invalid_path")
            await self._refuse(send, refusal, wall, started, route, None, method, "")
            return
        parts = path.resource(route.context_segments)
        if parts is None or not route.allows(method, parts[0]):
            shown = "/" + "/".join(path.checked)
            refusal = (404, "not_found", f"No resource {method} {shown}.", "not_found")
            await self._refuse(send, refusal, wall, started, route, None, method, shown)
            return
        resource, raw_resource = parts

        # One pass over the headers: pick out the key, drop what must not go upstream.
        key_name = route.key_name
        alternate = route.key_alternate
        alternate_name = alternate[0] if alternate else None
        key_value = alternate_value = content_length = None
        content_type = b""
        headers = [IDENTITY]
        listed: frozenset[bytes] = frozenset()
        for name, value in scope["headers"]:
            if name in REQUEST_DROP or name.startswith(b"x-forwarded-"):
                if name == b"content-length":
                    content_length = value
                elif name == b"connection":
                    listed = listed.union(connection_options(value))
                continue
            if name == key_name:
                key_value = value
                continue
            if name == alternate_name:
                alternate_value = value
                continue
            if name in KEY_HEADERS:
                continue  # a credential meant for someone else never travels upstream
            if name == b"content-type":
                content_type = value
            try:
                # As UTF-8, so the client library sends the very bytes that came in.
                headers.append((name.decode("latin-1"), value.decode("utf-8")))
            except UnicodeDecodeError:
                message = f"The value of header '{name.decode('latin-1')}' is not valid UTF-8."
                refusal = (400, "invalid_header", message, "invalid_header")
                await self._refuse(send, refusal, wall, started, route, None, method, resource)
                return
        if listed:
            # Hop-by-hop headers the client named in ``Connection`` stop here (RFC 9110 7.6.1).
            headers = [(n, v) for n, v in headers if n.encode("latin-1") not in listed]
        prefix = route.key_prefix
        if route.key_in_query:
            key_value, query = take_query_param(query, key_name)
        elif not key_value and alternate_value:
            key_value, prefix = alternate_value, alternate[1]

        key, refusal = authenticate(snapshot, route, key_value, prefix, wall)
        if refusal is not None:
            await self._refuse(send, refusal, wall, started, route, key, method, resource)
            return
        self.usage.touch_key(key.key_hash, wall)

        # Body: size limit (declared length first, then counted), then parse JSON once.
        if content_length is not None and int(content_length or 0) > self.max_body:
            await self._refuse(send, self.too_large, wall, started, route, key, method, resource)
            return
        try:
            body = await _read_body(receive, self.max_body)
        except ClientGone:
            reason = "client_disconnected"
            self._record(wall, started, proxy_id, route, key, method, resource, 499, reason)
            return
        if body is None:
            await self._refuse(send, self.too_large, wall, started, route, key, method, resource)
            return
        parsed = None
        if body and b"json" in content_type:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                refusal = (400, "invalid_request", "The request body is not valid JSON.", "")
                await self._refuse(send, refusal, wall, started, route, key, method, resource)
                return
        model = adapter.request_model(resource, parsed, path.opaque)
        if route.needs_model and model not in route.allowed_models:
            refusal = (403, "model_not_allowed", _model_message(model), "")
            await self._refuse(send, refusal, wall, started, route, key, method, resource, model)
            return
        exchange = Exchange(model)
        changed = False
        if route.chain_error is not None:
            refusal = (503, "guardrail_unavailable", CHAIN_BROKEN, "guardrail_config_error")
            await self._refuse(send, refusal, wall, started, route, key, method, resource, model)
            return
        if route.chain:
            exchange.state = {}
            if route.chain.has_request and body:
                if parsed is None:
                    # Whatever the declared type, a body the guardrails must see is JSON.
                    try:
                        parsed = orjson.loads(body)
                    except orjson.JSONDecodeError:
                        refusal = (415, "unsupported_media_type", NOT_JSON, "")
                        await self._refuse(
                            send, refusal, wall, started, route, key, method, resource, model
                        )
                        return
                result = await together(route.chain.run_request_now, parsed, exchange.state)
                if type(result) is not ChainResult:
                    result = await result
                exchange.note_guardrails(result.events)
                if result.intervention is not None:
                    await self._intervene(
                        send, route, key, method, resource, exchange, result.intervention
                    )
                    self._record_exchange(wall, started, route, key, method, resource, exchange)
                    return
                if result.modified:
                    parsed, changed = result.body, True
        if parsed is not None and adapter.prepare_body(resource, parsed):
            changed = True
        if changed:
            try:
                body = orjson.dumps(parsed)
            except orjson.JSONEncodeError:
                refusal = (400, "invalid_request", TOO_DEEP, "")
                await self._refuse(
                    send, refusal, wall, started, route, key, method, resource, model
                )
                return

        reservation = None
        if route.limits is not None:
            context = LimitContext(key.id, f"{method} {resource}", model, parsed, len(body))
            decision = await self.limiter.admit(route.limits, context)
            if not decision.allowed:
                await self._limited(send, route, decision)
                self._record_limited(wall, started, route, key, method, resource, model, decision)
                return
            exchange.limit_headers = decision.headers
            reservation = decision.reservation

        headers.extend(route.auth_headers)
        url = adapter.upstream_url(route.upstream_base, raw_resource, query)
        try:
            await self._relay(route, method, url, headers, body, receive, send, exchange, started)
        finally:
            if reservation is not None:
                self._settle_later(reservation, exchange)
            self._record_exchange(wall, started, route, key, method, resource, exchange)

    async def _relay(self, route, method, url, headers, body, receive, send, exchange, started):
        """Run the upstream leg; a client disconnect cancels it (and the upstream request)."""
        task = asyncio.current_task()
        gone = []

        async def watch_disconnect():
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.append(True)
            task.cancel()

        watcher = asyncio.get_running_loop().create_task(watch_disconnect())
        upstream = None
        try:
            upstream = await open_upstream(self.session, route, method, url, headers, body)
            exchange.upstream_ms = elapsed_ms(started)
            await relay_response(upstream, route, send, exchange, watcher.cancel)
        except UpstreamFailure as failure:
            watcher.cancel()
            exchange.status, exchange.outcome, exchange.reason = (
                failure.status,
                "failed",
                failure.code,
            )
            await self._reject(
                send, route, failure.status, failure.code, failure.message, exchange.limit_headers
            )
        except asyncio.CancelledError:
            if not gone:
                exchange.outcome, exchange.reason = "cancelled", "server_shutdown"
                exchange.status = exchange.status or 499
                raise
            task.uncancel()
            exchange.outcome, exchange.reason = "cancelled", "client_disconnected"
            exchange.status = exchange.status or 499
        finally:
            watcher.cancel()
            if upstream is not None:
                if exchange.outcome == "ok" or exchange.outcome == "upstream_error":
                    upstream.release()
                else:
                    upstream.close()

    # --- rate limits ---------------------------------------------------------------------------

    def _refresh_prices(self, snapshot) -> None:
        """After a reload (off the event loop): the admin-editable prices, when a cost budget
        needs them."""
        if self.limiter is not None and any(
            r.limits is not None and r.limits.has_cost for r in snapshot.routes.values()
        ):
            self.limiter.prices = load_price_table()

    def _settle_later(self, reservation: Reservation, exchange) -> None:
        """Count the response's usage without holding up the client. Nothing is billed when
        the upstream never answered or answered with an error; otherwise the reported usage
        is settled (none reported, e.g. a stream cut short: the reservation is charged)."""
        if exchange.upstream_ms is None or exchange.outcome == "upstream_error":
            self.limiter.release_soon(reservation)
        else:
            self.limiter.settle_soon(reservation, exchange.usage, model=exchange.model or None)

    async def _limited(self, send, route: Route, decision: Decision) -> None:
        """429 over a limit, 503 when a fail-closed limit cannot be checked: in the API's error
        shape, with the rate-limit headers and ``Retry-After``."""
        code = "rate_limited" if decision.status == 429 else "rate_limit_unavailable"
        body = route.adapter.error_body(decision.status, code, decision.message)
        await _respond(send, decision.status, body, route.deployment_header, *decision.headers)

    def _record_limited(self, wall, started, route, key, method, resource, model, decision):
        counter = decision.rejected_by
        prefix = "rate_limited" if decision.status == 429 else "rate_limit_unavailable"
        self.usage.record(
            (
                wall,
                route.proxy,
                route.deployment_id,
                key.id,
                route.provider,
                model[:200],
                method,
                resource[:500],
                decision.status,
                "rejected" if decision.status == 429 else "failed",
                f"{prefix}:{counter.policy}"[:64],
                False,
                None,
                None,
                None,
                elapsed_ms(started),
                None,
                {"rate_limit": {"attachment": counter.namespace, "limit": counter.label}},
            )
        )

    def _health(self, snapshot) -> bytes:
        """Alive, and which configuration revision it serves; nothing that names a proxy."""
        return orjson.dumps(
            {"status": "ok", "gateway": self.gateway_id, "revision": snapshot.revision}
        )

    # --- responses and records ---------------------------------------------------------------

    async def _intervene(self, send, route, key, method, resource, exchange, intervention):
        """A request-phase guardrail stopped the request: answer in the API's error shape."""
        exchange.intervened(intervention)
        exchange.status = intervention.status
        body = route.adapter.guardrail_error_body(intervention)
        await _respond(send, intervention.status, body, route.deployment_header)

    async def _reject(
        self, send, route: Route, status: int, code: str, message: str, extra=()
    ) -> None:
        body = route.adapter.error_body(status, code, message)
        await _respond(send, status, body, route.deployment_header, *extra)

    async def _refuse(
        self, send, refusal: Refusal, wall, started, route, key, method, resource, model=""
    ) -> None:
        """Answer with the API's error shape and record why."""
        status, code, message, reason = refusal
        await self._reject(send, route, status, code, message)
        self._record(
            wall, started, route.proxy, route, key, method, resource, status, reason or code, model
        )

    def _record(
        self, wall, started, proxy, route, key, method, resource, status, reason, model=""
    ) -> None:
        self.usage.record(
            (
                wall,
                proxy,
                route.deployment_id if route else None,
                key.id if key else None,
                route.provider if route else "",
                model,
                method,
                resource[:500],
                status,
                "cancelled" if reason == "client_disconnected" else "rejected",
                reason,
                False,
                None,
                None,
                None,
                elapsed_ms(started),
                None,
                None,
            )
        )

    def _record_exchange(self, wall, started, route, key, method, resource, exchange) -> None:
        usage = exchange.usage or {}
        self.usage.record(
            (
                wall,
                route.proxy,
                route.deployment_id,
                key.id,
                route.provider,
                exchange.model[:200],
                method,
                resource[:500],
                exchange.status,
                exchange.outcome,
                exchange.reason,
                exchange.streamed,
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                usage.get("total_tokens"),
                elapsed_ms(started),
                exchange.upstream_ms,
                exchange.details,
            )
        )


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def tune_collector(threshold: int) -> None:
    """Set Python's cyclic garbage collector up for serving, once everything is loaded.

    Django, the ORM and the snapshot are long-lived: frozen, they stay out of every
    collection. Requests in flight hold thousands of young objects: at Python's default
    threshold (700) the collector runs every few requests, walks them, finds no garbage
    (reference counting frees them) and promotes them to older generations that are walked
    again. ``threshold`` above the in-flight working set leaves it to the rare cyclic garbage.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *gc.get_threshold()[1:])


async def _respond(
    send,
    status: int,
    body: bytes,
    *extra: tuple[bytes, bytes],
    content_type: bytes = b"application/json",
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body if len(body) <= limit else None
    parts, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)
