"""A fast fake OpenAI upstream for load tests.

A raw asyncio protocol on uvloop with the httptools parser (no framework, responses prebuilt),
so one core answers tens of thousands of requests per second and the benchmark measures the
gateway, not this server. Any POST gets a chat completion with usage; a body with
``"stream": true`` gets an SSE stream of ``--chunks`` content chunks, a final usage chunk and
``[DONE]``, each chunk written separately as a real upstream would. A POST to a path ending in
``/converse`` gets an AWS Bedrock Converse answer instead (its signature is not checked).
A POST whose path contains ``/down/`` gets a 503 with an OpenAI error body: a provider
whose URL ends in ``/down`` is one that fails everything (the failover benchmark).
``GET /health`` answers 200.
With ``--placeholders`` the answer mentions ``[EMAIL_0000]`` and ``[PHONE_0001]`` (what PII
masking puts in a prompt naming an email address, then a phone number), split across two
stream chunks each, so the gateway's placeholder restoring has work to do.

    python bench/upstream.py --port 8090 [--chunks 20] [--placeholders]
"""

import argparse
import asyncio
import os
import signal

import httptools
import orjson

CREATED = 1_700_000_000
PROMPT_TOKENS = 12
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


# Stream deltas replaced by placeholder halves with --placeholders (index -> text).
SPLIT_PLACEHOLDERS = {3: "write to [EMA", 4: "IL_0000] or ", 8: "call [PHONE_00", 9: "01] now "}


def _deltas(chunks: int, placeholders: bool) -> list[str]:
    """The content deltas of a stream; joined, the content of a plain completion."""
    deltas = [f"word{i} " for i in range(chunks)]
    if placeholders:
        for index, text in SPLIT_PLACEHOLDERS.items():
            if index < chunks:
                deltas[index] = text
    return deltas


def _completion(model: str, chunks: int, placeholders: bool = False) -> bytes:
    text = "".join(_deltas(chunks, placeholders)).strip()
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": chunks,
                "total_tokens": PROMPT_TOKENS + chunks,
            },
        }
    )


def _converse(chunks: int) -> bytes:
    text = "".join(_deltas(chunks, False)).strip()
    return orjson.dumps(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": PROMPT_TOKENS,
                "outputTokens": chunks,
                "totalTokens": PROMPT_TOKENS + chunks,
            },
            "metrics": {"latencyMs": 1},
        }
    )


def _chunk(model: str, delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body: dict = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = usage
    event = b"data: " + orjson.dumps(body) + b"\n\n"
    # One HTTP/1.1 chunk per SSE event.
    return b"%x\r\n%s\r\n" % (len(event), event)


def _stream(model: str, chunks: int, placeholders: bool = False) -> list[bytes]:
    frames = [_chunk(model, {"role": "assistant", "content": ""})]
    frames += [_chunk(model, {"content": d}) for d in _deltas(chunks - 2, placeholders)]
    frames.append(_chunk(model, {}, finish="stop"))
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": chunks,
        "total_tokens": PROMPT_TOKENS + chunks,
    }
    frames.append(_chunk(model, {}, usage=usage))
    done = b"data: [DONE]\n\n"
    frames.append(b"%x\r\n%s\r\n" % (len(done), done))
    frames.append(b"0\r\n\r\n")
    return frames


def _headers(content_type: bytes, length: int | None, keep_alive: bool) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"content-type: " + content_type, b"x-fake-upstream: bench"]
    if length is None:
        lines += [b"transfer-encoding: chunked", b"cache-control: no-cache"]
    else:
        lines.append(b"content-length: %d" % length)
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


class Responses:
    """Prebuilt response bytes per (model, stream, keep-alive)."""

    def __init__(self, chunks: int, placeholders: bool = False) -> None:
        self.chunks = chunks
        self.placeholders = placeholders
        self.cache: dict[tuple[str, bool, bool], list[bytes]] = {}

    def converse(self, keep_alive: bool) -> list[bytes]:
        """A Bedrock Converse answer."""
        key = ("converse", False, keep_alive)
        found = self.cache.get(key)
        if found is None:
            body = _converse(self.chunks)
            found = self.cache[key] = [_headers(b"application/json", len(body), keep_alive) + body]
        return found

    def get(self, model: str, stream: bool, keep_alive: bool) -> list[bytes]:
        key = (model, stream, keep_alive)
        found = self.cache.get(key)
        if found is None:
            if stream:
                frames = _stream(model, self.chunks, self.placeholders)
                found = [_headers(b"text/event-stream", None, keep_alive), *frames]
            else:
                body = _completion(model, self.chunks, self.placeholders)
                found = [_headers(b"application/json", len(body), keep_alive) + body]
            if len(self.cache) < 64:
                self.cache[key] = found
        return found


DOWN_BODY = orjson.dumps(
    {"error": {"message": "bench upstream: down", "type": "server_error", "code": None}}
)
DOWN = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(DOWN_BODY), DOWN_BODY)
)
HEALTH = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


class UpstreamProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools and answer from the prebuilt responses."""

    def __init__(self, responses: Responses) -> None:
        self.responses = responses
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(BAD_REQUEST)
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        keep_alive = self.parser.should_keep_alive()
        if self.parser.get_method() == b"GET":
            transport.write(HEALTH)
        elif b"/down/" in self.url:
            transport.write(DOWN)
        elif self.url.endswith(b"/converse"):
            for frame in self.responses.converse(keep_alive):
                transport.write(frame)
        else:
            model, stream = "bench-model", False
            try:
                payload = orjson.loads(b"".join(self.body)) if self.body else {}
                if isinstance(payload, dict):
                    model = str(payload.get("model") or model)
                    stream = payload.get("stream") is True
            except orjson.JSONDecodeError:
                pass
            for frame in self.responses.get(model, stream, keep_alive):
                transport.write(frame)
        if not keep_alive:
            transport.close()


async def serve(host: str, port: int, chunks: int, placeholders: bool) -> None:
    loop = asyncio.get_running_loop()
    responses = Responses(chunks, placeholders)
    server = await loop.create_server(
        lambda: UpstreamProtocol(responses), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"bench upstream on http://{host}:{port} (pid {os.getpid()})", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per stream")
    parser.add_argument(
        "--placeholders", action="store_true", help="answer with PII masking placeholders"
    )
    args = parser.parse_args()
    server = serve(args.host, args.port, max(args.chunks, 2), args.placeholders)
    try:
        import uvloop
    except ImportError:
        asyncio.run(server)
    else:
        uvloop.run(server)


if __name__ == "__main__":
    main()
