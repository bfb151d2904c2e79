"""The upstream attempt(s) of a call: send the request with the process's one pooled client
and relay the answer (``relay``), or, for a routed call, follow its plan: try the next attempt
on the failures it names (connection, timeout, 429, 5xx), with backoff and jitter honouring
``Retry-After``, inside its deadline, skipping targets whose circuit is open. Once an answer
is being relayed, nothing is retried: a stream's first byte may already be with the client.
"""

import asyncio
import random
import time
from typing import Any

import aiohttp
import orjson

from gateways.dataplane.call import Call, Outcome, Refusal, elapsed_ms
from gateways.dataplane.chain import FilterChain
from gateways.dataplane.health import Health
from gateways.dataplane.relay import (
    TOO_DEEP,
    UpstreamFailure,
    answer_with,
    relay,
    timed_out,
    unreachable,
    upstream_body,
)
from gateways.dataplane.sigv4 import CredentialsUnavailable
from gateways.dataplane.targets import Attempt, Plan, Target
from gateways.dataplane.tracing import (
    SpanKind,
    Status,
    StatusCode,
    start_child,
    traceparent_headers,
)

NO_TARGET = Refusal(
    503,
    "no_healthy_upstream",
    "No upstream of this proxy can take the request right now.",
    outcome=Outcome.FAILED,
)
TRACE_HEADERS = frozenset({"traceparent", "tracestate"})
# How long a key the upstream refused or throttled rests when it says nothing of its own.
KEY_REST = 60.0


async def call_upstream(
    session: aiohttp.ClientSession, call: Call, chain: FilterChain, health: Health
) -> None:
    """The upstream leg: relay the answer of the route's provider, or follow the call's plan,
    and answer failures before an answer started with the gateway's own. A client that goes
    away cancels the attempt (and the upstream request with it)."""
    task = asyncio.current_task()
    gone = False

    async def watch_disconnect() -> None:
        nonlocal gone
        while (await call.receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.get_running_loop().create_task(watch_disconnect())
    upstream = None
    try:
        if call.plan is None and call.route.target.keys is None:
            body = upstream_body(call)
            if isinstance(body, Refusal):
                await answer_with(call, body)
                return
            upstream = await open_upstream(session, call, call.route.attempt, body, health)
            call.upstream_ms = elapsed_ms(call.started)
        else:
            upstream = await follow_plan(session, call, health)
            if upstream is None:
                return  # answered already
        await relay(upstream, call, chain)
    except UpstreamFailure as failure:
        watcher.cancel()
        await answer_with(call, failure.refusal)
    except asyncio.CancelledError:
        call.outcome = Outcome.CANCELLED
        call.status = call.status or 499
        if not gone:
            call.reason = "server_shutdown"
            raise
        task.uncancel()
        call.reason = "client_disconnected"
    finally:
        watcher.cancel()
        if upstream is not None:
            if call.outcome in (Outcome.OK, Outcome.UPSTREAM_ERROR):
                upstream.release()
            else:
                upstream.close()


async def open_upstream(
    session: aiohttp.ClientSession,
    call: Call,
    attempt: Attempt,
    body: bytes,
    health: Health,
    raw_resource: str | None = None,
    query: str | None = None,
) -> aiohttp.ClientResponse:
    """Send the request to ``attempt``'s target; connection problems become 502, timeouts
    504 (``UpstreamFailure``)."""
    target = attempt.target
    resource = call.raw_resource if raw_resource is None else raw_resource
    url = target.adapter.upstream_url(
        target.upstream_base, resource, call.query if query is None else query
    )
    auth = target.auth_headers
    if target.keys is not None:
        call.key_used, auth = target.keys.take(health.key_resting)
    headers = [*call.headers, *auth]
    span = None
    if call.span is not None:
        span = start_child(call.tracer, call.span, f"attempt {attempt.name}", SpanKind.CLIENT)
        span.set_attribute("server.address", url.host or "")
        # The caller's trace context continues in ours (the call span's parent).
        headers = [(n, v) for n, v in headers if n not in TRACE_HEADERS]
        headers.extend(traceparent_headers(span))
    try:
        upstream = await send(session, call, target, url, headers, body)
    except UpstreamFailure as failure:
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, failure.refusal.code))
            span.end()
        raise
    if span is not None:
        span.set_attribute("http.response.status_code", upstream.status)
        span.end()
    return upstream


async def send(
    session: aiohttp.ClientSession,
    call: Call,
    target: Target,
    url: Any,
    headers: list[tuple[str, str]],
    body: bytes,
) -> aiohttp.ClientResponse:
    """One request to ``target``: signed where its credential signs, bounded by its
    timeouts."""
    if target.signer is not None:
        try:
            headers = await target.signer.sign(call.method, str(url), headers, body)
        except CredentialsUnavailable as exc:
            raise UpstreamFailure(502, "upstream_credentials_unavailable", str(exc)) from None
    try:
        async with asyncio.timeout(target.first_byte):
            return await session.request(
                call.method,
                url,
                headers=headers,
                data=body or None,
                timeout=target.timeout,
                allow_redirects=False,
            )
    except TimeoutError:
        raise timed_out() from None
    except (aiohttp.ClientError, OSError, ValueError):
        raise unreachable() from None


async def follow_plan(
    session: aiohttp.ClientSession, call: Call, health: Health
) -> aiohttp.ClientResponse | None:
    """The answer to relay, from the first attempt of the plan that gives one the plan does
    not retry; None when the call was answered here (every attempt failed or was skipped)."""
    route = call.route
    plan = call.plan
    if plan is None:  # a key pool alone: another key on a refusal or a throttle
        keys = route.target.keys
        plan = Plan([route.attempt] * min(len(keys.headers), 3), frozenset({"401", "429"}), 3)
    call.attempts = []
    # The body as the filters left it, before any target's additions: each target adds its
    # own (a copy per target other than the proxy's own provider). Unchanged, it is the bytes
    # the client sent.
    original = None
    if call.parsed is not None and len(plan.attempts) > 1:
        try:
            original = orjson.dumps(call.parsed) if call.body_changed else call.body
        except orjson.JSONEncodeError:
            await answer_with(call, TOO_DEEP)
            return None
    last_failure: Refusal | None = None
    tried = 0
    for index, attempt in enumerate(plan.attempts):
        if tried >= plan.max_attempts:
            break
        if plan.deadline is not None and time.perf_counter() >= plan.deadline:
            break
        name = attempt.name
        if plan.breaker is not None and not health.allows(name):
            call.attempts.append(record(name, None, 0.0, "circuit_open"))
            continue
        prepared = prepare(call, attempt, original)
        if isinstance(prepared, Refusal):
            await answer_with(call, prepared)
            return None
        if prepared is None:
            call.attempts.append(record(name, None, 0.0, "unsupported"))
            continue
        raw_resource, query, body = prepared
        tried += 1
        more = tried < plan.max_attempts and index + 1 < len(plan.attempts)
        started = time.perf_counter()
        try:
            upstream = await open_upstream(
                session, call, attempt, body, health, raw_resource, query
            )
        except UpstreamFailure as failure:
            kind = "timeout" if failure.refusal.code == "upstream_timeout" else "connect"
            call.attempts.append(record(name, None, since(started), failure.refusal.code))
            if plan.breaker is not None:
                health.failed(name, plan.breaker)
            last_failure = failure.refusal
            if more and kind in plan.retry_on and await backoff(plan, tried, None):
                continue
            await answer_with(call, failure.refusal)
            return None
        status = upstream.status
        kind = failure_kind(status)
        if kind is None and not call.attempts:
            # Answered by its first attempt: counted in the metrics, not listed in the usage
            # row, which names the provider, the status and the latency already.
            call.first_attempt = name
        else:
            call.attempts.append(record(name, status, since(started), f"upstream_{status}"))
        if kind is not None:
            if plan.breaker is not None and kind != "401":
                health.failed(name, plan.breaker)
            retry_after = retry_after_seconds(upstream.headers.get("retry-after"))
            if call.key_used is not None and kind in ("401", "429"):
                health.rest_key(call.key_used, retry_after or KEY_REST)
            if more and kind in plan.retry_on and await backoff(plan, tried, retry_after):
                upstream.release()
                continue
        elif plan.breaker is not None:
            health.succeeded(name)
        call.upstream_ms = elapsed_ms(call.started)
        return upstream
    await answer_with(call, last_failure or NO_TARGET)
    return None


def prepare(
    call: Call, attempt: Attempt, original: bytes | None
) -> tuple[str, str, bytes] | Refusal | None:
    """What ``attempt`` sends: the raw resource path, the query and the body; None when its
    target does not serve the call's operation."""
    route = call.route
    target: Target = attempt.target
    if target is route.target and not attempt.model:
        body = upstream_body(call)
        if isinstance(body, Refusal):
            return body
        return call.raw_resource, call.query, body
    parsed = orjson.loads(original) if original is not None else None
    if target is route.target:
        resource, raw, query = call.resource, call.raw_resource, call.query
    else:
        operation = route.adapter.operation_of(call.resource)
        if operation is None:
            return None
        name, path_model = operation
        raw = target.adapter.resource_for(name, attempt.model or path_model or call.model)
        if raw is None:
            return None
        resource, query = raw, ""
    if attempt.model:
        resource, raw = target.adapter.with_model(resource, raw, parsed, attempt.model)
    if parsed is None:
        return raw, query, call.body
    target.adapter.prepare_body(resource, parsed)
    try:
        return raw, query, orjson.dumps(parsed)
    except orjson.JSONEncodeError:
        return TOO_DEEP


def failure_kind(status: int) -> str | None:
    """Which of a plan's ``retryOn`` kinds an upstream status is, if any."""
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    if status == 401:
        return "401"
    return None


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delay form; a date is not waited for)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def backoff(plan: Plan, tried: int, retry_after: float | None) -> bool:
    """Wait before the next attempt (exponential, full jitter; at least ``Retry-After``);
    False when that wait would pass the plan's deadline (nothing is tried then)."""
    delay = random.uniform(0, min(plan.backoff_max, plan.backoff_initial * 2 ** (tried - 1)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    if plan.deadline is not None and time.perf_counter() + delay >= plan.deadline:
        return False
    if delay > 0:
        await asyncio.sleep(delay)
    return True


def record(target: str, status: int | None, latency_ms: float, reason: str) -> dict:
    """One attempt as the usage row's ``details.attempts`` lists it."""
    return {"target": target, "status": status, "latency_ms": latency_ms, "reason": reason}


def since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
