"""The upstream leg of a request: send it with the pooled client, relay the response to the
client (buffered for complete JSON bodies, chunk by chunk for streams), and collect usage on
the way. Provider differences come from the route's adapter."""

import time
from typing import Any

import aiohttp
import orjson

from gateways.adapters.base import finish_usage
from gateways.routing import Route

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
# Responses are requested uncompressed so usage can be read from them.
REQUEST_DROP = HOP_BY_HOP | {b"accept-encoding"}
IDENTITY = ("accept-encoding", "identity")
SSE_ERROR_PREFIX = b"event: error\ndata: "
MAX_SSE_LINE = 1 << 20


class Exchange:
    """What happened to one request, for its usage record."""

    __slots__ = (
        "model",
        "outcome",
        "reason",
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


class UpstreamFailure(Exception):
    """The upstream could not be reached or answered badly before the response started."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def response_headers(raw: Any, route: Route) -> list[tuple[bytes, bytes]]:
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
    headers = response_headers(upstream.raw_headers, route)
    if status >= 400:
        exchange.outcome, exchange.reason = "upstream_error", f"upstream_{status}"
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


async def _relay_whole(upstream, route: Route, send, exchange: Exchange, headers, stop_watch):
    data = await _read_whole(upstream)
    if exchange.status < 300 and data and "json" in upstream.headers.get("content-type", ""):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamFailure(
                502, "invalid_upstream_response", "The upstream sent an invalid response."
            ) from None
        usage = route.adapter.extract_usage(parsed)
        if usage:
            exchange.usage = finish_usage(usage)
        if not exchange.model:
            exchange.model = route.adapter.response_model(parsed)
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
            if marker in buf:
                for line in buf[:cut].split(b"\n"):
                    if line.startswith(b"data:") and marker in line:
                        try:
                            event = orjson.loads(line[5:])
                        except orjson.JSONDecodeError:
                            continue
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


def elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
