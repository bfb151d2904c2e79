"""The upstream leg of a request: send it with the pooled client, relay the response to the
client (buffered for complete JSON bodies, chunk by chunk for streams), and collect usage on
the way. Provider differences come from the route's adapter.

When the route's guardrail chain has response policies, a successful response goes through
them: a complete JSON body is judged (and possibly rewritten) before it is sent; a stream is
cut into events, each event's text delta is fed to the chain's ``StreamGuard`` and only the
text the guard releases reaches the client (see ``GuardedEvents``). Without response policies
the stream is relayed byte for byte as it arrives. A successful response the guardrails
cannot read (neither JSON nor SSE) is refused rather than relayed unchecked.
"""

import re
import time
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

import aiohttp
import orjson

from gateways.dataplane.adapters.base import ProviderAdapter, finish_usage
from gateways.routing import Route
from guardrails.engine import Intervention, StreamGuard
from guardrails.limits.headers import NAMES as LIMIT_HEADER_NAMES
from guardrails.registry import Action

# Never forwarded in either direction; content-length is recomputed by the sender.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"trailers",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"proxy-connection",
        b"host",
        b"content-length",
    }
)
# The gateway's server sets its own; the upstream's would be duplicates.
RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}
# On a rate-limited route the gateway's own rate-limit headers replace the upstream's.
RESPONSE_DROP_LIMITED = RESPONSE_DROP | LIMIT_HEADER_NAMES
# Responses are requested uncompressed so usage can be read from them. What the client's side
# says about the client (``Forwarded``, ``X-Real-IP``; ``X-Forwarded-*`` by prefix) and its
# cookies are its business with the gateway, not the upstream's.
REQUEST_DROP = HOP_BY_HOP | {b"accept-encoding", b"forwarded", b"x-real-ip", b"cookie"}
IDENTITY = ("accept-encoding", "identity")
SSE_ERROR_PREFIX = b"event: error\ndata: "
MAX_SSE_LINE = 1 << 20
# Pieces of held text a read's events may have moved into the next event's text in one pass.
MAX_MOVES = 16
_NEWLINE = ord("\n")
_CR = ord("\r")
_UNASKED = object()  # the veto has not been asked about a read yet
_BACKSLASH = ord("\\")
_QUOTE = ord('"')
_CLOSE = ord("]")
# How far past a moved piece its run is looked for (runs the judge holds are shorter).
_RUN_WINDOW = 64


def connection_options(value: bytes) -> frozenset[bytes]:
    """The header names a ``Connection`` header lists (hop-by-hop, never forwarded)."""
    return frozenset(token.strip().lower() for token in value.split(b",") if token.strip())


class Exchange:
    """What happened to one request, for its usage record."""

    __slots__ = (
        "guardrails",
        "limit_headers",
        "model",
        "outcome",
        "reason",
        "state",
        "status",
        "streamed",
        "upstream_ms",
        "usage",
    )

    def __init__(self, model: str):
        self.model = model
        self.status = 0
        self.outcome = "ok"
        self.reason = ""
        self.streamed = False
        self.upstream_ms: float | None = None
        self.usage: dict[str, int] | None = None
        # The guardrail chain's per-request state (shared by the request and response phases)
        # and what its policies did, when the route has a chain.
        self.state: dict[str, Any] | None = None
        self.guardrails: list[dict[str, str]] | None = None
        # The rate-limit headers of an admitted request, sent with whatever it is answered.
        self.limit_headers: Sequence[tuple[bytes, bytes]] = ()

    def note_guardrails(self, events: list[dict[str, str]]) -> None:
        """Keep the modifications and interventions of one phase for the usage record (the
        chain's rows as they are: they already name their direction)."""
        for event in events:
            if event["action"] != Action.PASSED:
                if self.guardrails is None:
                    self.guardrails = []
                self.guardrails.append(event)

    def intervened(self, intervention: Intervention) -> None:
        self.outcome = "failed" if intervention.status >= 500 else "rejected"
        self.reason = guardrail_reason(intervention)

    @property
    def details(self) -> dict[str, Any] | None:
        return {"guardrails": self.guardrails} if self.guardrails else None


def guardrail_reason(intervention: Intervention) -> str:
    """The usage record's reason: ``guardrail_intervened`` for a 422, else the error type
    (``prompt_template_error``, ``guardrail_error`` ...)."""
    if intervention.status == 422:
        return "guardrail_intervened"
    return (intervention.type or "guardrail_error").lower()[:64]


class UpstreamFailure(Exception):
    """The upstream could not be reached or answered badly before the response started."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def response_headers(
    raw: Any, route: Route, limit_headers: Sequence[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]]:
    """The upstream's headers fit to relay; the gateway's own rate-limit headers replace any
    the upstream sent under the same names."""
    if limit_headers:
        drop = RESPONSE_DROP_LIMITED
        headers = [(k.lower(), v) for k, v in raw if k.lower() not in drop]
        headers.extend(limit_headers)
    else:
        headers = [(k.lower(), v) for k, v in raw if k.lower() not in RESPONSE_DROP]
    headers.append(route.deployment_header)
    return headers


async def open_upstream(
    session: aiohttp.ClientSession,
    route: Route,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> aiohttp.ClientResponse:
    """Send the request; map connection problems to 502 and timeouts to 504."""
    try:
        return await session.request(
            method,
            url,
            headers=headers,
            data=body or None,
            timeout=route.timeout,
            allow_redirects=False,
        )
    except TimeoutError:
        raise UpstreamFailure(
            504, "upstream_timeout", "The upstream did not answer in time."
        ) from None
    except (aiohttp.ClientError, OSError, ValueError):
        raise UpstreamFailure(
            502, "upstream_unreachable", "The upstream could not be reached."
        ) from None


async def relay_response(
    upstream: aiohttp.ClientResponse, route: Route, send, exchange: Exchange, stop_watch
) -> None:
    """Relay the upstream response to the client and fill in ``exchange``."""
    status = upstream.status
    exchange.status = status
    content_type = upstream.headers.get("content-type", "")
    headers = response_headers(upstream.raw_headers, route, exchange.limit_headers)
    if status >= 400:
        exchange.outcome, exchange.reason = "upstream_error", f"upstream_{status}"
    if route.chain.has_response and status < 300:
        if "text/event-stream" in content_type:
            await _relay_sse_guarded(upstream, route, send, exchange, headers, stop_watch)
        else:
            await _relay_whole(upstream, route, send, exchange, headers, stop_watch, True)
        return
    if "text/event-stream" in content_type:
        await _relay_sse(upstream, route, send, exchange, headers, stop_watch)
    elif status < 400 and "json" not in content_type and upstream.content_length is None:
        await _relay_chunks(upstream, send, exchange, headers, stop_watch)
    else:
        await _relay_whole(upstream, route, send, exchange, headers, stop_watch)


async def _read_whole(upstream: aiohttp.ClientResponse) -> bytes:
    try:
        return await upstream.read()
    except TimeoutError:
        raise UpstreamFailure(
            504, "upstream_timeout", "The upstream did not answer in time."
        ) from None
    except (aiohttp.ClientError, OSError):
        raise UpstreamFailure(
            502, "invalid_upstream_response", "The upstream sent an incomplete response."
        ) from None


async def _relay_whole(
    upstream, route: Route, send, exchange: Exchange, headers, stop_watch, guarded=False
):
    data = await _read_whole(upstream)
    is_json = "json" in upstream.headers.get("content-type", "")
    if exchange.status < 300 and data and (is_json or guarded):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            if is_json:
                raise UpstreamFailure(
                    502, "invalid_upstream_response", "The upstream sent an invalid response."
                ) from None
            raise UpstreamFailure(
                502,
                "guardrail_cannot_inspect",
                "The upstream response is neither JSON nor a server-sent event stream, so "
                "this proxy's response guardrails cannot inspect it.",
            ) from None
        usage = route.adapter.extract_usage(parsed)
        if usage:
            exchange.usage = finish_usage(usage)
        if not exchange.model:
            exchange.model = route.adapter.response_model(parsed)
        if guarded:
            state = exchange.state if exchange.state is not None else {}
            result = route.chain.run_response_raw(data, state)
            if result is None:
                result = await route.chain.run_response(parsed, state)
                if result.modified and result.intervention is None:
                    result.body = orjson.dumps(result.body)
            exchange.note_guardrails(result.events)
            if result.intervention is not None:
                await _replace_with_intervention(route, send, exchange, result.intervention)
                stop_watch()
                return
            if result.modified:
                data = result.body
    headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
    stop_watch()
    await send({"type": "http.response.body", "body": data})


async def _relay_chunks(upstream, send, exchange: Exchange, headers, stop_watch):
    exchange.streamed = True
    await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
    try:
        async for chunk in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except TimeoutError:
        exchange.outcome, exchange.reason = "failed", "upstream_timeout"
    except (aiohttp.ClientError, OSError):
        exchange.outcome, exchange.reason = "failed", "upstream_disconnected"
    stop_watch()
    await send({"type": "http.response.body", "body": b""})


async def _relay_sse(upstream, route: Route, send, exchange: Exchange, headers, stop_watch):
    """Forward each chunk as soon as it arrives; scan complete lines for usage events."""
    exchange.streamed = True
    adapter = route.adapter
    marker = adapter.sse_usage_marker
    usage: dict[str, int] = {}
    tail = b""
    await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
    try:
        async for chunk in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            buf = tail + chunk if tail else chunk
            cut = buf.rfind(b"\n")
            if cut == -1:
                tail = buf if len(buf) < MAX_SSE_LINE else b""
                continue
            tail = buf[cut + 1 :]
            for line in _holding(buf, marker, b"\n", cut):  # complete lines only
                event = _event_json(line)
                if event is not None:
                    adapter.usage_from_sse_event(event, usage)
    except TimeoutError:
        exchange.outcome, exchange.reason = "failed", "upstream_timeout"
    except (aiohttp.ClientError, OSError):
        exchange.outcome, exchange.reason = "failed", "upstream_disconnected"
    if usage:
        exchange.usage = finish_usage(usage)
    stop_watch()
    if exchange.outcome == "failed":
        message = (
            "The upstream timed out mid-stream."
            if exchange.reason == "upstream_timeout"
            else "The upstream closed the stream early."
        )
        status = 504 if exchange.reason == "upstream_timeout" else 502
        error = adapter.error_body(status, exchange.reason, message)
        await send({"type": "http.response.body", "body": SSE_ERROR_PREFIX + error + b"\n\n"})
    else:
        await send({"type": "http.response.body", "body": b""})


async def _replace_with_intervention(
    route: Route, send, exchange: Exchange, intervention: Intervention
) -> None:
    """Answer with the intervention instead of the upstream's response."""
    exchange.intervened(intervention)
    exchange.status = intervention.status
    body = route.adapter.guardrail_error_body(intervention)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *exchange.limit_headers,
        route.deployment_header,
    ]
    await send({"type": "http.response.start", "status": intervention.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _relay_sse_guarded(upstream, route: Route, send, exchange: Exchange, headers, stop_watch):
    """Relay a stream through the response guardrails, event by event."""
    exchange.streamed = True
    adapter = route.adapter
    state = exchange.state if exchange.state is not None else {}
    guard = route.chain.stream(state)
    gate = GuardedEvents(adapter, guard)
    intervention: Intervention | None = None
    buf = b""
    marker = gate.marker
    # Whose ``raw_veto`` tells which raw events may go out as they came (None: no one can);
    # ``StreamJudge.passes_raw``, inlined below: this runs for every read.
    judge = gate.judge
    carries = gate.carrier is not None
    await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
    try:
        async for chunk in upstream.content.iter_any():
            buf = buf + chunk if buf else chunk
            hit: Any = _UNASKED
            if (
                judge is not None
                and not gate.pending
                and buf[-2:] == b"\n\n"
                and _CR not in buf
                and (_BACKSLASH not in buf or b"\\u" not in buf)
            ):
                hit = judge.raw_veto(buf)
                if hit is None:
                    # The common read on a long stream: whole events the guard would pass.
                    usage_at = buf.find(marker)
                    if usage_at != -1:
                        gate.read_usage(buf, usage_at)
                    await send({"type": "http.response.body", "body": buf, "more_body": True})
                    buf = b""
                    continue
                if carries and type(hit) is re.Match:
                    # Whole events with text to restore (a read under load holds a stream):
                    # settled in one pass when the shapes allow, else fed event by event.
                    carried = gate.carried(buf, hit.start())
                    if carried is not None:
                        usage_at = carried.find(marker)
                        if usage_at != -1:
                            gate.read_usage(carried, usage_at)
                        await send(
                            {"type": "http.response.body", "body": carried, "more_body": True}
                        )
                        buf = b""
                        continue
            if _CR in buf:
                buf = buf.replace(b"\r\n", b"\n")
            if buf[-2:] == b"\n\n":
                complete, buf = buf, b""  # the usual read: whole events
            else:
                cut = buf.rfind(b"\n\n") + 2
                if cut == 1:
                    if len(buf) > MAX_SSE_LINE:
                        raise aiohttp.ClientPayloadError("event too large")
                    continue
                complete, buf = buf[:cut], buf[cut:]
            # Events the guard would pass unchanged go out as they came, read only for usage:
            # the judge's veto finds the first byte it refuses, everything before that event
            # goes out in one piece, and only the refused event is fed.
            asks = judge is not None and (_BACKSLASH not in complete or b"\\u" not in complete)
            out: list[bytes] = []
            pos, size = 0, len(complete)
            while pos < size:
                if asks and not gate.pending:
                    if hit is _UNASKED or pos:
                        hit = judge.raw_veto(complete, pos)
                    if hit is None:
                        rest = complete[pos:] if pos else complete
                        usage_at = rest.find(marker)
                        if usage_at != -1:
                            gate.read_usage(rest, usage_at)
                        out.append(rest)
                        break
                    if type(hit) is re.Match:
                        before = complete.rfind(b"\n\n", pos, hit.start())
                        if before != -1:
                            passed = complete[pos : before + 2]
                            usage_at = passed.find(marker)
                            if usage_at != -1:
                                gate.read_usage(passed, usage_at)
                            out.append(passed)
                            pos = before + 2
                end = complete.find(b"\n\n", pos)
                raw = complete[pos:end]
                pos = end + 2
                if not raw:
                    continue
                found = gate.event_now(raw, out)
                if found is not None:
                    intervention = found if isinstance(found, Intervention) else await found
                    if intervention is not None:
                        break
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
            if intervention is not None:
                break
        else:
            out = []
            if buf.strip():
                intervention = await gate.event(buf.strip(b"\n"), out)
            if intervention is None:
                found = gate.finish_now(out)
                intervention = (
                    found if found is None or type(found) is Intervention else await found
                )
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
    except TimeoutError:
        exchange.outcome, exchange.reason = "failed", "upstream_timeout"
    except (aiohttp.ClientError, OSError):
        exchange.outcome, exchange.reason = "failed", "upstream_disconnected"
    if gate.usage:
        exchange.usage = finish_usage(gate.usage)
    exchange.note_guardrails(guard.events)
    stop_watch()
    if intervention is not None:
        exchange.intervened(intervention)
        error = adapter.sse_error_event(adapter.guardrail_error_body(intervention))
        await send({"type": "http.response.body", "body": error})
    elif exchange.outcome == "failed":
        # Text still held back was never judged in full: it is dropped, not released.
        message = (
            "The upstream timed out mid-stream."
            if exchange.reason == "upstream_timeout"
            else "The upstream closed the stream early."
        )
        status = 504 if exchange.reason == "upstream_timeout" else 502
        error = adapter.error_body(status, exchange.reason, message)
        await send({"type": "http.response.body", "body": SSE_ERROR_PREFIX + error + b"\n\n"})
    else:
        await send({"type": "http.response.body", "body": b""})


class GuardedEvents:
    """Turns upstream SSE events into the events the client may see.

    Events without text pass straight through until the first text event. From then on, text
    events wait in ``pending`` until the guard releases text: the released text (possibly
    rewritten, e.g. PII placeholders restored) goes out in the first waiting text event, the
    other waiting text events are dropped (their text is part of it or still held), and the
    waiting events without text follow in their order. Events without text that arrive after
    text wait too, so a stream's closing events (``finish_reason``, ``content_block_stop``,
    ``[DONE]``) always come after the last released text. At the end of the stream the
    guard's final release goes out in the last text event's shape.

    A text event's shape is its parsed JSON, or, when the adapter found its text in the raw
    bytes (``locate_stream_text``), the ``(start, end)`` of the text's JSON string there:
    released text is then written into those bytes, without parsing or serialising.
    """

    __slots__ = (
        "adapter",
        "bridge",
        "carrier",
        "feed_raw",
        "frame",
        "guard",
        "judge",
        "last",
        "locate",
        "marker",
        "pending",
        "texts",
        "usage",
        "verbatim",
    )

    def __init__(self, adapter: ProviderAdapter, guard: StreamGuard):
        self.adapter = adapter
        self.guard = guard
        self.marker = adapter.sse_usage_marker
        self.locate = adapter.locate_stream_text
        # The bytes before and after the text of the last event ``locate`` found it in.
        self.frame: tuple[bytes, bytes] | None = None
        self.judge = guard.raw_judge()  # whose ``raw_veto`` is current (see the relay)
        # The only judge's ``feed_raw``: released text written into located events' bytes
        # as it comes back, without decoding the judge's answer or encoding it again.
        self.feed_raw = guard.raw_feeder()
        # The only judge's ``RawCarrier``, and the bytes between the texts of two events of
        # the frame's shape (the first one's tail, the blank line, the next one's head).
        self.carrier = guard.raw_carrier()
        self.bridge: bytes | None = None
        self.usage: dict[str, int] = {}
        # (raw event, its shape): a parsed event, a text span (a tuple), None without text.
        self.pending: list[tuple[bytes, Any]] = []
        self.last: tuple[bytes, Any] | None = None  # the latest text event seen
        self.texts = 0  # text events in ``pending``
        # The text of the only text event in ``pending``: released unchanged, that event goes
        # out as the upstream sent it (no re-serialising, the common case on a long stream).
        self.verbatim: str | None = None

    def passes_raw(self, events: bytes) -> bool:
        """Whether these complete raw events (each ending in a blank line) may go out as they
        came: nothing waits and the guard would pass whatever text they carry unchanged.
        When they may, their usage has been read from them."""
        judge = self.judge
        if (
            judge is None
            or self.pending
            or self.guard.intervention is not None
            or not judge.passes_raw(events)
        ):
            return False
        usage_at = events.find(self.marker)
        if usage_at != -1:
            self.read_usage(events, usage_at)
        return True

    def read_usage(self, events: bytes, found: int | None = None) -> None:
        """Collect the usage carried by raw events that go out undecoded: only the events
        around each occurrence of the marker are cut out and parsed (a read under load can
        hold a whole stream, and usage rides on one or two of its events). ``found``: where
        the marker first stands, when the caller has looked (to skip the call without it)."""
        for event in _holding(events, self.marker, b"\n\n", len(events), found):
            parsed = _event_json(event)
            if parsed is not None:
                self.adapter.usage_from_sse_event(parsed, self.usage)

    async def event(
        self, raw: bytes, out: list[bytes], try_raw: bool = True
    ) -> Intervention | None:
        """Take one event (without its blank line); append what may be sent to ``out``.
        ``try_raw=False`` when ``passes_raw`` just refused this very event."""
        if try_raw and self.passes_raw(raw):
            out.append(raw + b"\n\n")
            return None
        found = self.event_now(raw, out)
        return found if found is None or isinstance(found, Intervention) else await found

    def event_now(
        self, raw: bytes, out: list[bytes]
    ) -> "Intervention | Awaitable[Intervention | None] | None":
        """``event`` (without the raw check) with no coroutine unless a judge has to wait:
        None, the intervention, or an awaitable giving one of them (an async judge)."""
        located = None
        frame = self.frame
        if frame is not None:
            # The event the text was last found in, around a new text (a stream's chunks
            # differ only in their text): the same place, found by comparing bytes.
            head, tail = frame
            start, end = len(head), len(raw) - len(tail)
            if end > start and raw.startswith(head) and raw.endswith(tail):
                span = raw[start:end]
                if _QUOTE not in span and _BACKSLASH not in span and _NEWLINE not in span:
                    try:
                        located = span.decode(), start, end
                    except UnicodeDecodeError:
                        located = None
        carries_usage = False
        if located is None:
            carries_usage = raw.find(self.marker) != -1
            if not carries_usage:
                located = self.locate(raw)
                if located is not None:
                    self.frame = (raw[: located[1]], raw[located[2] :])
                    self.bridge = None
        shape: Any
        if located is not None:
            text, start, end = located
            shape = (start, end)
            feed_raw = self.feed_raw
            if feed_raw is not None and not self.pending and self.guard.intervention is None:
                span = raw[start:end]
                try:
                    released = feed_raw(text, span)
                except Exception:
                    self.pending = []
                    return self.guard.judge_failed()
                self.last = (raw, shape)
                if released is span:
                    out.append(raw + b"\n\n")
                elif released:
                    out.append(b"".join((raw[:start], released, raw[end:], b"\n\n")))
                else:  # all of it held: the event waits for the text to come out in it
                    self.pending.append(self.last)
                    self.texts, self.verbatim = 1, text
                return None
        else:
            shape = _event_json(raw)
            if shape is not None and carries_usage:
                self.adapter.usage_from_sse_event(shape, self.usage)
            text = self.adapter.stream_text(shape) if shape is not None else None
            if text is None:
                if self.last is None:
                    out.append(raw + b"\n\n")
                else:
                    self.pending.append((raw, None))
                return None
        found = self.guard.feed_now(text)
        if isinstance(found, tuple):
            return self._take(found, raw, shape, text, out)
        return self._take_later(found, raw, shape, text, out)

    def carried(self, events: bytes, at: int) -> bytes | None:
        """``events`` (complete raw events; nothing waits or is held; the veto's first hit at
        ``at``) released in one pass, when the carrier can settle every hit in place: a piece
        it would hold back that ends a text of the frame's shape, followed by an event of
        that shape, is moved to the start of that event's text (the bytes between the two
        texts go before it), where the judge would have released it, across as many texts as
        it spans; each complete piece is rewritten where it stands. The text the client reads
        is the same as fed event by event. None when some hit needs feeding (a piece ending
        the read or a text in another shape, or too many pieces to move).

        The read is put together once, from slices of it and the rewrites: a moved piece
        lands where the bytes after the next event's head begin, so everything from there on
        keeps its place."""
        if events.find(b"\n\n", at) + 2 == len(events):
            return None  # the hit is in the read's last event (a read per event): feed it
        bridge = self.bridge  # found at the first piece to move, when not known yet
        carrier = self.carrier
        held_run, veto, rewrites = carrier.held_run, self.judge.raw_veto, carrier.rewrites
        out: list[bytes] = []
        done = moves = 0  # ``events[:done]`` is in ``out``
        rewritten = False
        while True:
            end = held_run(events, at).end()
            if events[end] == _QUOTE:  # the piece ends a string: a text, if it is one
                if moves == MAX_MOVES:
                    return None
                start = events.rfind(b"\n\n", 0, at)
                start = 0 if start == -1 else start + 2
                if bridge is None and self.frame is None:
                    # The frame taken from this event, its text found to end with the piece.
                    bridge = self._bridge_from(events, start, at, end)
                    if bridge is None:
                        return None
                else:
                    if bridge is None:
                        bridge = self._bridge()
                    head = self.frame[0]
                    text_start = start + len(head)
                    span = events[text_start:end]
                    if (
                        text_start > at
                        or not events.startswith(head, start)
                        or _QUOTE in span
                        or _BACKSLASH in span
                        or _NEWLINE in span
                    ):
                        return None
                if not events.startswith(bridge, end):
                    return None
                size = len(bridge)
                out.append(events[done:at])
                piece = events[at:end]
                while True:  # carried into the next text, and on while it is all piece
                    out.append(bridge)
                    moves += 1
                    done = end + size  # where the next text begins
                    window = piece + events[done : done + _RUN_WINDOW]
                    run = held_run(window).end()
                    if run == len(window):
                        return None  # a run longer than the window: feed it
                    end = done + run - len(piece)
                    if events[end] != _QUOTE:
                        break
                    if moves == MAX_MOVES or not events.startswith(bridge, end):
                        return None
                    piece = window[:run]
                if events[end] == _CLOSE:
                    found = rewrites.get(window[: run + 1])
                    if found is not None:
                        out.append(found)
                        rewritten, done = True, end + 1
                    else:
                        out.append(piece)
                else:
                    out.append(piece)
            elif events[end] == _CLOSE:
                found = rewrites.get(events[at : end + 1])
                if found is not None:
                    out.append(events[done:at])
                    out.append(found)
                    rewritten, done = True, end + 1
            hit = veto(events, end)
            if hit is None:
                break
            at = hit.start()
        if rewritten:
            carrier.modified = True
        out.append(events[done:])
        return b"".join(out)

    def _bridge(self) -> bytes:
        """The bytes between the texts of two events of the frame's shape."""
        head, tail = self.frame
        self.bridge = b"".join((tail, b"\n\n", head))
        return self.bridge

    def _bridge_from(self, events: bytes, start: int, at: int, end: int) -> bytes | None:
        """``_bridge`` with the frame taken from the event at ``start``, when its text is
        located and holds ``events[at:end]`` at its end; else None."""
        raw = events[start : events.find(b"\n\n", end)]
        located = self.locate(raw)
        if located is None or start + located[2] != end or start + located[1] > at:
            return None
        self.frame = (raw[: located[1]], raw[located[2] :])
        return self._bridge()

    async def _take_later(
        self, found: Awaitable, raw: bytes, shape: Any, text: str, out: list[bytes]
    ) -> Intervention | None:
        return self._take(await found, raw, shape, text, out)

    def _take(
        self, found: tuple, raw: bytes, shape: Any, text: str, out: list[bytes]
    ) -> Intervention | None:
        released, intervention = found
        if intervention is not None:
            self.pending = []
            return intervention
        self.last = (raw, shape)
        self.pending.append((raw, shape))
        self.verbatim = text if not self.texts else None
        self.texts += 1
        if released:
            self._flush(released, out)
        return None

    async def finish(self, out: list[bytes]) -> Intervention | None:
        found = self.finish_now(out)
        return found if found is None or isinstance(found, Intervention) else await found

    def finish_now(
        self, out: list[bytes]
    ) -> "Intervention | Awaitable[Intervention | None] | None":
        """``finish`` with no coroutine unless a judge has to wait (see ``event_now``)."""
        found = self.guard.finish_now()
        if isinstance(found, tuple):
            return self._finished(found, out)
        return self._finish_later(found, out)

    async def _finish_later(self, found: Awaitable, out: list[bytes]) -> Intervention | None:
        return self._finished(await found, out)

    def _finished(self, found: tuple, out: list[bytes]) -> Intervention | None:
        released, intervention = found
        if intervention is not None:
            self.pending = []
            return intervention
        if released and self.last is not None and all(p is None for _, p in self.pending):
            self.pending.insert(0, self.last)
            self.verbatim = None
        if released or self.pending:
            self._flush(released, out)
        return None

    def _flush(self, released: str, out: list[bytes]) -> None:
        placed = False
        for raw, shape in self.pending:
            if shape is None:
                out.append(raw + b"\n\n")
            elif not placed and released:
                if released == self.verbatim:
                    out.append(raw + b"\n\n")
                elif type(shape) is tuple:
                    start, end = shape
                    text = orjson.dumps(released)[1:-1]
                    out.append(b"".join((raw[:start], text, raw[end:], b"\n\n")))
                else:
                    event = self.adapter.with_stream_text(shape, released)
                    out.append(_with_data(raw, orjson.dumps(event)))
                placed = True
        self.pending = []
        self.texts, self.verbatim = 0, None


def _holding(
    data: bytes, marker: bytes, sep: bytes, stop: int, at: int | None = None
) -> Iterator[bytes]:
    """The pieces of ``data[:stop]`` between separators ``sep`` that hold ``marker``, each
    once: usage is read from these alone, since a read under load can hold a whole stream
    and usage rides on one or two of its events. ``at``: where the marker first stands,
    when the caller has looked already (the read is not searched twice)."""
    if at is None:
        at = data.find(marker, 0, stop)
    while at != -1:
        start = data.rfind(sep, 0, at)
        end = data.find(sep, at, stop)
        if end == -1:
            end = stop
        yield data[0 if start == -1 else start + len(sep) : end]
        at = data.find(marker, end, stop)


def _event_json(raw: bytes) -> Any:
    """The JSON data of one SSE event, or None (no data, ``[DONE]``, not JSON)."""
    if raw.startswith(b"data:") and _NEWLINE not in raw:
        # The usual event: one data line (JSON allows the space before the value).
        try:
            parsed = orjson.loads(raw[5:])
        except orjson.JSONDecodeError:
            return None  # [DONE], or not JSON
        return parsed if isinstance(parsed, dict | list) else None
    data = None
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data = value if data is None else data + b"\n" + value
    if data is None:
        return None
    data = data.strip()
    if not data or data[:1] not in b"{[":
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _with_data(raw: bytes, data: bytes) -> bytes:
    """``raw`` with its data lines replaced by one line carrying ``data``."""
    if _NEWLINE not in raw:
        return b"data: " + data + b"\n\n"
    lines = [line for line in raw.split(b"\n") if not line.startswith(b"data:")]
    lines.append(b"data: " + data)
    return b"\n".join(lines) + b"\n\n"


def elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
