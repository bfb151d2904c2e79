"""One request as the fake upstream received it, the test controls it carries, and the two
ways to answer it: a whole body, or a stream of events paced by the stream controls."""

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

# Input tokens every answer reports as not read from a cache.
PROMPT_TOKENS = 10
JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class Dropped(Exception):
    """Raised to make the server cut the connection."""


class BadJson(ValueError):
    """The request body is not JSON."""


@dataclass(frozen=True)
class Reply:
    """A whole answer: status, body and headers (``content-type`` first)."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=lambda: list(JSON))


def json_reply(status: int, payload: Any, headers: list[tuple[bytes, bytes]] = ()) -> Reply:
    return Reply(status, orjson.dumps(payload), [*JSON, *headers])


@dataclass
class Counts:
    """The token counts one answer reports, in no vendor's spelling: ``prompt`` input tokens
    not read from a cache, ``cached`` read from it, ``cache_write`` written to it."""

    prompt: int
    completion: int
    cached: int = 0
    cache_write: int = 0


@dataclass
class Exchange:
    """A request the fake received: ``path`` is decoded, ``raw_path`` as it came."""

    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes
    record: dict[str, Any]
    receive: Any
    send: Any
    parsed: Any = field(default=None, init=False, repr=False)

    @property
    def params(self) -> dict[str, str]:
        """The query parameters (the first value of each)."""
        return {name: values[0] for name, values in parse_qs(self.query).items()}

    @property
    def request(self) -> Any:
        """The JSON body (``{}`` when empty); ``BadJson`` when it is not JSON."""
        if self.parsed is None:
            try:
                self.parsed = orjson.loads(self.body) if self.body else {}
            except orjson.JSONDecodeError:
                raise BadJson("bad json") from None
        return self.parsed

    def counts(self, completion: int) -> Counts:
        """The counts to report for an answer of ``completion`` output tokens, with the cache
        counts the request's controls ask for."""
        return Counts(
            PROMPT_TOKENS,
            completion,
            cached=int(self.headers.get("x-fake-cached-tokens") or 0),
            cache_write=int(self.headers.get("x-fake-cache-write-tokens") or 0),
        )

    def usage_override(self) -> Any:
        """The usage object ``x-fake-usage`` asks for, or None."""
        value = self.headers.get("x-fake-usage")
        return orjson.loads(value) if value else None

    def reply_text(self, user_text: str) -> str | None:
        """The text to answer with in echo mode or with ``x-fake-reply``; None for the usual
        one. ``user_text``: the last user message's text."""
        if self.headers.get("x-fake-reply"):
            return unquote(self.headers["x-fake-reply"])
        if self.headers.get("x-fake-mode") == "echo":
            return user_text
        return None

    def pieces(self, reply: str | None) -> list[str]:
        """The pieces a stream sends: ``reply`` in ``x-fake-chunk-size`` pieces, or
        ``x-fake-chunks`` numbered ones."""
        if reply is not None:
            size = max(1, int(self.headers.get("x-fake-chunk-size") or 8))
            return [reply[i : i + size] for i in range(0, len(reply), size)] or [""]
        return [f"chunk{i} " for i in range(int(self.headers.get("x-fake-chunks") or 3))]

    async def answer(self, reply: Reply) -> None:
        """Send a whole answer; a successful one carries ``x-fake-response-headers``."""
        headers = list(reply.headers)
        if reply.status < 300:
            headers.extend(
                tuple(part.strip().encode().split(b"=", 1))
                for part in self.headers.get("x-fake-response-headers", "").split(";")
                if "=" in part
            )
        headers.append((b"content-length", str(len(reply.body)).encode()))
        self.record["completed"] = True
        await self.send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await self.send({"type": "http.response.body", "body": reply.body})

    async def stream(self, events: list[bytes], headers: list[tuple[bytes, bytes]] = SSE) -> None:
        """Send each event separately (no content-length: chunked, as vendors stream),
        noticing when the client goes away; the stream controls pace, bunch or cut it."""
        gap = float(self.headers.get("x-fake-chunk-delay") or 0)
        drop = self.headers.get("x-fake-mode") == "drop"
        record = self.record

        async def watch():
            while (await self.receive())["type"] != "http.disconnect":
                pass
            record["cut"] = True

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await self.send({"type": "http.response.start", "status": 200, "headers": headers})
            if self.headers.get("x-fake-burst") == "1" and not drop:
                events = [b"".join(events)]
            for index, event in enumerate(events):
                if record["cut"]:
                    return
                if drop and index == 2:
                    raise Dropped("dropped mid-stream")
                await self.send({"type": "http.response.body", "body": event, "more_body": True})
                if gap:
                    await asyncio.sleep(gap)
            if not record["cut"]:
                record["completed"] = True
                await self.send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()


def sse(data: Any, event: str = "", end: bytes = b"\n\n") -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + orjson.dumps(data) + end


def bearer_token(exchange: Exchange, header: str = "authorization") -> str | None:
    """The token of an ``Authorization: Bearer`` header; ``""`` for an empty one, None when
    there is none."""
    value = exchange.headers.get(header)
    if value is None or value[:7].lower() != "bearer ":
        return None
    return value[7:].strip()


def refused_key(key: str) -> bool:
    """Keys beginning with ``invalid`` are refused as wrong keys (every other one is taken)."""
    return key.startswith("invalid")


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the ``text`` of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        return "\n".join(text for text in texts if isinstance(text, str))
    return ""


def last_user_text(messages: Any, role: str = "user", content: str = "content") -> str:
    """The text of the last message from ``role`` in a list of chat messages."""
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == role:
            return text_of(message.get(content))
    return ""
