"""A fake LLM upstream for the demo and the tests: OpenAI chat completions (plain and SSE),
embeddings and models, and Anthropic messages (plain and SSE), with no network access.

Test controls travel as request headers (the gateway forwards them):
  x-fake-delay: seconds to wait before the response headers
  x-fake-chunks: number of content chunks in a stream (default 3)
  x-fake-chunk-delay: seconds between stream chunks
  x-fake-status / x-fake-body: answer with this status and body instead
  x-fake-mode: ``drop`` (cut the connection mid-stream), ``garbage`` (a non-JSON body labelled
               JSON), ``broken`` (promise more bytes than are sent, then hang up) or ``echo``
               (answer with the last user message's text, as is)
  x-fake-reply: answer with this text (URL-encoded) instead of the usual one
  x-fake-chunk-size: with echo or a reply, stream the text in pieces of this many characters
               (default 8) instead of ``x-fake-chunks`` pieces
  x-fake-burst: ``1`` sends a stream's events in one write (as a busy upstream's arrive)
  x-fake-response-headers: ``name=value;name=value`` headers to add to a chat completion
  x-fake-usage: a JSON object sent as the ``usage`` of a plain chat completion or message
               instead of the counted one, e.g. ``{"prompt_tokens": -5}`` for an upstream that
               reports nonsense
Every request is recorded (method, path and raw path, query, headers, body, whether its
stream was cut by the client): ``GET /__requests__`` lists them, ``DELETE /__requests__``
clears them.
"""

import asyncio
import threading
import time
from typing import Any
from urllib.parse import unquote

import orjson
import uvicorn

PROMPT_TOKENS = 10
JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class Dropped(Exception):
    """Raised to make the server cut the connection."""


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/__requests__":
            if scope["method"] == "DELETE":
                self.requests.clear()
            return await _send(send, 200, JSON, orjson.dumps(self.requests))
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        record = {
            "method": scope["method"],
            "path": path,
            "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "cut": False,
            "completed": False,
        }
        self.requests.append(record)
        await self.respond(scope, receive, send, headers, body, record)

    async def respond(self, scope, receive, send, headers, body, record) -> None:
        delay = float(headers.get("x-fake-delay") or 0)
        if delay:
            await asyncio.sleep(delay)
        if headers.get("x-fake-status"):
            status = int(headers["x-fake-status"])
            payload = headers.get("x-fake-body", "").encode()
            record["completed"] = True
            return await _send(send, status, JSON, payload)
        mode = headers.get("x-fake-mode", "")
        if mode == "garbage":
            record["completed"] = True
            return await _send(send, 200, JSON, b"<html>not json")
        if mode == "broken":
            start = [*JSON, (b"content-length", b"1000")]
            await send({"type": "http.response.start", "status": 200, "headers": start})
            await send({"type": "http.response.body", "body": b'{"id": ', "more_body": True})
            raise Dropped("broken response")
        try:
            request = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return await _send(send, 400, JSON, b'{"error": {"message": "bad json"}}')
        path, method = scope["path"], scope["method"]
        chunks = int(headers.get("x-fake-chunks") or 3)
        reply = _reply(request, headers, mode)
        if reply is not None:
            size = max(1, int(headers.get("x-fake-chunk-size") or 8))
            pieces = [reply[i : i + size] for i in range(0, len(reply), size)] or [""]
        else:
            pieces = [f"chunk{i} " for i in range(chunks)]
        if method == "POST" and path.endswith("/messages"):
            if request.get("stream"):
                events = _anthropic_events(request, pieces)
                return await self.stream(receive, send, events, headers, record)
            record["completed"] = True
            message = _anthropic_message(request, len(pieces), reply)
            if headers.get("x-fake-usage"):
                message["usage"] = orjson.loads(headers["x-fake-usage"])
            return await _send(send, 200, JSON, orjson.dumps(message))
        if method == "POST" and path.endswith("/chat/completions"):
            if request.get("stream"):
                events = _openai_events(request, pieces)
                return await self.stream(receive, send, events, headers, record)
            record["completed"] = True
            completion = _openai_completion(request, len(pieces), reply)
            if headers.get("x-fake-usage"):
                completion["usage"] = orjson.loads(headers["x-fake-usage"])
            extra = [
                tuple(part.strip().encode().split(b"=", 1))
                for part in headers.get("x-fake-response-headers", "").split(";")
                if "=" in part
            ]
            return await _send(send, 200, [*JSON, *extra], orjson.dumps(completion))
        if method == "POST" and path.endswith("/embeddings"):
            record["completed"] = True
            return await _send(send, 200, JSON, orjson.dumps(_embeddings(request)))
        if method == "GET" and "/models/" in path:
            record["completed"] = True
            model = {"id": path.rsplit("/", 1)[1], "object": "model"}
            return await _send(send, 200, JSON, orjson.dumps(model))
        if method == "GET" and path.endswith("/models"):
            record["completed"] = True
            models = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            return await _send(send, 200, JSON, orjson.dumps(models))
        body = {"error": {"message": f"No route {method} {path}", "type": "not_found"}}
        return await _send(send, 404, JSON, orjson.dumps(body))

    async def stream(self, receive, send, events: list[bytes], headers, record) -> None:
        """Send each event separately, noticing when the client goes away."""
        gap = float(headers.get("x-fake-chunk-delay") or 0)
        drop = headers.get("x-fake-mode") == "drop"

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            record["cut"] = True

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE})
            if headers.get("x-fake-burst") == "1" and not drop:
                events = [b"".join(events)]
            for index, event in enumerate(events):
                if record["cut"]:
                    return
                if drop and index == 2:
                    raise Dropped("dropped mid-stream")
                await send({"type": "http.response.body", "body": event, "more_body": True})
                if gap:
                    await asyncio.sleep(gap)
            if not record["cut"]:
                record["completed"] = True
                await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()


async def _send(send, status: int, headers, body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _last_text(request: dict) -> str:
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    return content if isinstance(content, str) else "..."


def _reply(request: dict, headers: dict[str, str], mode: str) -> str | None:
    """The text to answer with in echo mode or with ``x-fake-reply``; None for the default."""
    if headers.get("x-fake-reply"):
        return unquote(headers["x-fake-reply"])
    if mode != "echo":
        return None
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                texts = [p.get("text", "") for p in content if isinstance(p, dict)]
                content = "\n".join(t for t in texts if isinstance(t, str))
            return content if isinstance(content, str) else ""
    return ""


def _openai_completion(request: dict, chunks: int, reply: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": f"echo: {_last_text(request)}" if reply is None else reply,
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": chunks,
            "total_tokens": PROMPT_TOKENS + chunks,
        },
    }


def _openai_events(request: dict, pieces: list[str]) -> list[bytes]:
    model = request.get("model", "fake-model")
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
    events = []
    chunks = len(pieces)
    for i, piece in enumerate(pieces):
        delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        events.append(_sse({**base, "choices": [choice]}))
    events.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if (request.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": chunks,
            "total_tokens": PROMPT_TOKENS + chunks,
        }
        events.append(_sse({**base, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events


def _embeddings(request: dict) -> dict:
    inputs = request.get("input", "")
    inputs = inputs if isinstance(inputs, list) else [inputs]
    data = [
        {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
        for i in range(len(inputs))
    ]
    usage = {"prompt_tokens": 4 * len(inputs), "total_tokens": 4 * len(inputs)}
    return {"object": "list", "data": data, "model": request.get("model", ""), "usage": usage}


def _anthropic_message(request: dict, chunks: int, reply: str | None = None) -> dict:
    text = f"echo: {_last_text(request)}" if reply is None else reply
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "fake-model"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": chunks},
    }


def _anthropic_events(request: dict, pieces: list[str]) -> list[bytes]:
    chunks = len(pieces)
    message = {**_anthropic_message(request, chunks), "content": [], "stop_reason": None}
    message["usage"] = {"input_tokens": PROMPT_TOKENS, "output_tokens": 1}
    events = [
        _sse({"type": "message_start", "message": message}, "message_start"),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
    ]
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        events.append(
            _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
        )
    events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    events.append(
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": chunks},
            },
            "message_delta",
        )
    )
    events.append(_sse({"type": "message_stop"}, "message_stop"))
    return events


def _sse(data: dict, event: str = "") -> bytes:
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + orjson.dumps(data) + b"\n\n"


def serve_in_thread(host: str = "127.0.0.1", port: int = 8090, app: FakeUpstream | None = None):
    """Run a fake upstream under uvicorn in a daemon thread; returns ``(server, thread)``.
    Stop it with ``server.should_exit = True`` and ``thread.join()``."""
    config = uvicorn.Config(
        app or FakeUpstream(), host=host, port=port, log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return server, thread


application = FakeUpstream()
