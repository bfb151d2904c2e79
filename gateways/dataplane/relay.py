"""The answer of the upstream to the client: relayed buffered for complete bodies, event by
event for streams, reading usage on the way; or the gateway's own answer instead. What differs
between providers comes from the route's adapter; what a policy does to an answer comes from
the chain's response and stream filters.
"""

from typing import Any

import aiohttp
import orjson

from gateways.dataplane.adapters.base import finish_usage
from gateways.dataplane.call import Call, Outcome, Refusal, elapsed_ms
from gateways.dataplane.chain import FilterChain, StreamFilter, UpstreamAnswer
from gateways.dataplane.sse import EventTooLarge
from gateways.dataplane.streams import StreamCodec
from guardrails.limits.headers import NAMES as LIMIT_HEADER_NAMES

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
# The gateway's server sets its own; the upstream's would be duplicates. On a rate-limited
# route the gateway's own rate-limit headers replace the upstream's.
RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}
RESPONSE_DROP_LIMITED = RESPONSE_DROP | LIMIT_HEADER_NAMES
TOO_DEEP = Refusal(
    400,
    "invalid_request",
    "The request body is nested too deeply to be rewritten (more than 255 levels of arrays "
    "and objects).",
)


class UpstreamFailure(Exception):
    """The upstream could not be reached or answered badly before the answer started."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.refusal = Refusal(status, code, message, outcome=Outcome.FAILED)


def timed_out() -> UpstreamFailure:
    return UpstreamFailure(504, "upstream_timeout", "The upstream did not answer in time.")


def unreachable() -> UpstreamFailure:
    return UpstreamFailure(502, "upstream_unreachable", "The upstream could not be reached.")


def invalid(what: str) -> UpstreamFailure:
    return UpstreamFailure(502, "invalid_upstream_response", f"The upstream sent {what}.")


def upstream_body(call: Call) -> bytes | Refusal:
    """The body to forward: the adapter's additions made (``stream_options`` ...), serialised
    again when a step changed it."""
    parsed = call.parsed
    if parsed is not None and call.route.adapter.prepare_body(call.resource, parsed):
        call.body_changed = True
    if not call.body_changed:
        return call.body
    try:
        return orjson.dumps(parsed)
    except orjson.JSONEncodeError:
        return TOO_DEEP


def response_headers(raw: Any, call: Call) -> list[tuple[bytes, bytes]]:
    """The upstream's headers fit to relay, the gateway's rate-limit headers replacing any the
    upstream sent under the same names."""
    drop = RESPONSE_DROP_LIMITED if call.limit_headers else RESPONSE_DROP
    headers = [(k.lower(), v) for k, v in raw if k.lower() not in drop]
    headers.extend(call.limit_headers)
    headers.extend(call.route_headers)
    headers.append(call.route.deployment_header)
    return headers


async def relay(upstream: aiohttp.ClientResponse, call: Call, chain: FilterChain) -> None:
    """Relay the upstream's answer to the client and fill in ``call``."""
    status = upstream.status
    call.status = status
    if status >= 400:
        call.outcome, call.reason = Outcome.UPSTREAM_ERROR, f"upstream_{status}"
    content_type = upstream.headers.get("content-type", "")
    headers = response_headers(upstream.raw_headers, call)
    codec = call.route.adapter.stream_codec(content_type)
    if codec is not None:
        call.codec = codec
        streams = chain.open_stream(call) if status < 300 else []
        await relay_events(upstream, call, headers, streams)
    elif (
        status < 300
        and "json" not in content_type
        and upstream.content_length is None
        and not chain.response
    ):
        await relay_chunks(upstream, call, headers)
    else:
        await relay_whole(upstream, call, headers, content_type, chain)


async def read_whole(upstream: aiohttp.ClientResponse) -> bytes:
    try:
        return await upstream.read()
    except TimeoutError:
        raise timed_out() from None
    except (aiohttp.ClientError, OSError):
        raise invalid("an incomplete response") from None


async def relay_whole(
    upstream: aiohttp.ClientResponse,
    call: Call,
    headers: list[tuple[bytes, bytes]],
    content_type: str,
    chain: FilterChain,
) -> None:
    answer = UpstreamAnswer(call.status, content_type, await read_whole(upstream))
    if call.status < 300 and answer.body and "json" in content_type:
        try:
            parsed = answer.parsed
        except orjson.JSONDecodeError:
            raise invalid("an invalid response") from None
        adapter = call.route.adapter
        usage = adapter.usage_from_headers(headers, adapter.extract_usage(parsed))
        if usage:
            call.usage = finish_usage(usage)
        call.response_model = adapter.response_model(parsed)
        if not call.model:
            call.model = call.response_model
    refusal = await chain.run_response(call, answer) if chain.response else None
    if refusal is not None:
        await answer_with(call, refusal)
        return
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await call.send({"type": "http.response.start", "status": call.status, "headers": headers})
    call.response_started = True
    await call.send({"type": "http.response.body", "body": answer.body})


async def relay_chunks(
    upstream: aiohttp.ClientResponse, call: Call, headers: list[tuple[bytes, bytes]]
) -> None:
    """A body of unknown length that is neither JSON nor events (audio ...), as it comes."""
    call.streamed = True
    await call.send({"type": "http.response.start", "status": call.status, "headers": headers})
    call.response_started = True
    try:
        async for chunk in upstream.content.iter_any():
            await send_part(call, chunk)
    except TimeoutError:
        call.outcome, call.reason = Outcome.FAILED, "upstream_timeout"
    except (aiohttp.ClientError, OSError):
        call.outcome, call.reason = Outcome.FAILED, "upstream_disconnected"
    await call.send({"type": "http.response.body", "body": b""})


async def relay_events(
    upstream: aiohttp.ClientResponse,
    call: Call,
    headers: list[tuple[bytes, bytes]],
    streams: list[StreamFilter],
) -> None:
    """Relay a stream. Each read's complete events are read for usage; without stream
    filters the reads go out as they came, the moment they arrive; with them, complete events
    pass the filters (nearest the upstream first) and what they let through goes out."""
    call.streamed = True
    adapter = call.route.adapter
    marker = adapter.sse_usage_marker
    usage: dict[str, int] = {}
    codec = call.codec
    stop: Refusal | None = None
    await call.send({"type": "http.response.start", "status": call.status, "headers": headers})
    call.response_started = True
    try:
        async for chunk in upstream.content.iter_any():
            try:
                events = codec.feed(chunk)
            except EventTooLarge:
                if streams:
                    raise  # filters cannot judge what they cannot see whole
                codec.reset()  # the event is relayed all the same, unread
                events = b""
            if events:
                read_usage(adapter, codec, events, marker, usage)
            if not streams:
                await send_part(call, chunk)
                continue
            if events:
                events, stop = await through(streams, events)
                if events:
                    await send_part(call, events)
                if stop is not None:
                    break
        else:
            events = codec.rest()
            if events:
                read_usage(adapter, codec, events, marker, usage)
            if streams:
                events, stop = await through(streams, events, end=True)
                if events:
                    await send_part(call, events)
    except TimeoutError:
        call.outcome, call.reason = Outcome.FAILED, "upstream_timeout"
    except (aiohttp.ClientError, OSError, EventTooLarge):
        call.outcome, call.reason = Outcome.FAILED, "upstream_disconnected"
    if usage:
        call.usage = finish_usage(usage)
    if call.outcome == Outcome.FAILED and stop is None:
        # Text still held back was never judged in full: it is dropped, not released.
        for stream in streams:
            await stream.on_end()
        timed_out = call.reason == "upstream_timeout"
        message = (
            "The upstream timed out mid-stream."
            if timed_out
            else "The upstream closed the stream early."
        )
        status = 504 if timed_out else 502
        error = adapter.error_body(status, call.reason, message)
        event = adapter.stream_failure_event(codec, status, error)
        await call.send({"type": "http.response.body", "body": event})
        return
    if stop is not None:
        call.outcome = stop.outcome
        call.reason = stop.reason or stop.code
        error = adapter.stream_error_event(codec, stop.status, stop.body)
        await call.send({"type": "http.response.body", "body": error})
        return
    await call.send({"type": "http.response.body", "body": b""})


async def send_part(call: Call, data: bytes) -> None:
    if call.first_byte_ms is None:
        call.first_byte_ms = elapsed_ms(call.started)
    await call.send({"type": "http.response.body", "body": data, "more_body": True})


async def through(
    streams: list[StreamFilter], events: bytes, *, end: bool = False
) -> tuple[bytes, Refusal | None]:
    """``events`` passed through each stream filter in turn (and, at the ``end`` of the
    stream, what each still held); the refusal of one that stopped the stream."""
    for stream in streams:
        if events:
            events = await stream.on_events(events)
        if end and stream.stop is None:
            events += await stream.on_end()
        if stream.stop is not None:
            return events, stream.stop
    return events, None


def read_usage(
    adapter, codec: StreamCodec, events: bytes, marker: bytes, usage: dict[str, int]
) -> None:
    """Merge the usage the events holding ``marker`` carry into ``usage``."""
    for raw in codec.holding(events, marker):
        parsed = codec.data(raw)
        if parsed is not None:
            adapter.usage_from_sse_event(parsed, usage)


async def answer_with(call: Call, refusal: Refusal) -> None:
    """Answer ``call`` with ``refusal`` in the called API's error shape."""
    call.refused(refusal)
    route = call.route
    body = refusal.body
    if body is None:
        body = route.adapter.error_body(refusal.status, refusal.code, refusal.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *call.limit_headers,
        *refusal.headers,
        *call.route_headers,
        route.deployment_header,
    ]
    await call.send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    call.response_started = True
    await call.send({"type": "http.response.body", "body": body})
