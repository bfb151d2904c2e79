"""Anthropic Messages API: ``/v1/messages`` (plain and its named SSE events) and
``/v1/messages/count_tokens``. ``x-api-key`` (or ``Authorization: Bearer``) and
``anthropic-version`` are required; usage
reports prompt caching as ``cache_read_input_tokens`` / ``cache_creation_input_tokens``, apart
from ``input_tokens``."""

from typing import Any

from gateways.fake_upstream.exchange import (
    Counts,
    Exchange,
    Reply,
    bearer_token,
    json_reply,
    last_user_text,
    refused_key,
    sse,
)
from gateways.fake_upstream.vendor import Vendor, route


def error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def usage(counts: Counts) -> dict[str, Any]:
    return {
        "input_tokens": counts.prompt,
        "cache_creation_input_tokens": counts.cache_write,
        "cache_read_input_tokens": counts.cached,
        "output_tokens": counts.completion,
        "service_tier": "standard",
    }


def message(request: dict, text: str, counts: Counts, msg_id: str = "msg_fake") -> dict:
    """A complete Messages API answer."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "fake-model"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage(counts),
    }


def last_text(request: dict) -> str:
    """The last message's text, as the default answer echoes it ("..." for blocks)."""
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    return content if isinstance(content, str) else "..."


def stream_events(request: dict, pieces: list[str], counts: Counts) -> list[dict[str, Any]]:
    """The events of a streamed answer, as dicts (each carries its ``type``)."""
    start = message(request, "", Counts(counts.prompt, 1, counts.cached, counts.cache_write))
    start.update(content=[], stop_reason=None)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        events.append({"type": "content_block_delta", "index": 0, "delta": delta})
    events.append({"type": "content_block_stop", "index": 0})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": counts.completion},
        }
    )
    events.append({"type": "message_stop"})
    return events


class Anthropic(Vendor):
    name = "anthropic"
    routes = [
        (route("POST", r"/messages/count_tokens"), "count_tokens"),
        (route("POST", r"/messages"), "messages"),
    ]

    def refuse(self, exchange: Exchange, found) -> Reply | None:
        # Recent SDKs send the API key as ``Authorization: Bearer``, which the API takes too.
        key = exchange.headers.get("x-api-key") or bearer_token(exchange)
        if not key:
            return json_reply(401, error("authentication_error", "x-api-key header is required"))
        if refused_key(key):
            return json_reply(401, error("authentication_error", "invalid x-api-key"))
        if not exchange.headers.get("anthropic-version"):
            message = "anthropic-version: header is required"
            return json_reply(400, error("invalid_request_error", message))
        return None

    def bad_request(self, message: str) -> Reply:
        return json_reply(400, error("invalid_request_error", message))

    async def messages(self, exchange: Exchange, found) -> None:
        request = exchange.request
        reply = exchange.reply_text(last_user_text(request.get("messages")))
        pieces = exchange.pieces(reply)
        counts = exchange.counts(len(pieces))
        if request.get("stream"):
            events = [sse(e, e["type"]) for e in stream_events(request, pieces, counts)]
            return await exchange.stream(events)
        text = f"echo: {last_text(request)}" if reply is None else reply
        answer = message(request, text, counts)
        override = exchange.usage_override()
        if override is not None:
            answer["usage"] = override
        await exchange.answer(json_reply(200, answer))

    async def count_tokens(self, exchange: Exchange, found) -> None:
        await exchange.answer(json_reply(200, {"input_tokens": exchange.counts(0).prompt}))
