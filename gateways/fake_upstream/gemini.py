"""Gemini API: ``/{v1,v1beta}/models/{model}:generateContent``, ``:streamGenerateContent``
(SSE with ``?alt=sse``, otherwise a streamed JSON array), ``:countTokens`` and
``:embedContent``. The key travels in ``x-goog-api-key`` (or the ``key`` query parameter);
``usageMetadata`` counts cached input as ``cachedContentTokenCount`` inside
``promptTokenCount``."""

from typing import Any

import orjson

from gateways.fake_upstream.exchange import Counts, Exchange, Reply, json_reply, refused_key, sse
from gateways.fake_upstream.vendor import Vendor, route

MODEL = r"/(?P<version>v1|v1beta|v1alpha)/models/(?P<model>[^/:]+)"
UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def error(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def usage_metadata(counts: Counts, final: bool) -> dict[str, Any]:
    """Gemini's counts: a stream's earlier chunks carry only the prompt's."""
    prompt = counts.prompt + counts.cached
    metadata: dict[str, Any] = {"promptTokenCount": prompt}
    if counts.cached:
        metadata["cachedContentTokenCount"] = counts.cached
    if final:
        metadata["candidatesTokenCount"] = counts.completion
    metadata["totalTokenCount"] = prompt + (counts.completion if final else 0)
    metadata["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return metadata


def user_text(request: dict) -> str:
    """The text of the last user turn of ``contents``."""
    contents = request.get("contents")
    if isinstance(contents, str):
        return contents
    for content in reversed(contents if isinstance(contents, list) else []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            parts = content.get("parts")
            texts = [p.get("text") for p in parts or [] if isinstance(p, dict)]
            return "\n".join(t for t in texts if isinstance(t, str))
    return ""


class Gemini(Vendor):
    name = "gemini"
    routes = [
        (route("POST", MODEL + r":generateContent"), "generate"),
        (route("POST", MODEL + r":streamGenerateContent"), "stream_generate"),
        (route("POST", MODEL + r":countTokens"), "count_tokens"),
        (route("POST", MODEL + r":embedContent"), "embed"),
    ]

    def refuse(self, exchange: Exchange, found) -> Reply | None:
        key = exchange.headers.get("x-goog-api-key") or exchange.params.get("key")
        if not key:
            return json_reply(403, error(403, "PERMISSION_DENIED", UNREGISTERED))
        if refused_key(key):
            reason = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
            message = "API key not valid. Please pass a valid API key."
            return json_reply(400, error(400, "INVALID_ARGUMENT", message, details=[reason]))
        return None

    def bad_request(self, message: str) -> Reply:
        return json_reply(400, error(400, "INVALID_ARGUMENT", message))

    def chunk(self, found, text: str, counts: Counts, final: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": text}], "role": "model"},
            "index": 0,
        }
        if final:
            candidate["finishReason"] = "STOP"
        return {
            "candidates": [candidate],
            "usageMetadata": usage_metadata(counts, final),
            "modelVersion": found["model"],
            "responseId": "fake-response",
        }

    async def generate(self, exchange: Exchange, found) -> None:
        request = exchange.request
        reply = exchange.reply_text(user_text(request))
        pieces = exchange.pieces(reply)
        text = f"echo: {user_text(request)}" if reply is None else reply
        answer = self.chunk(found, text, exchange.counts(len(pieces)), final=True)
        override = exchange.usage_override()
        if override is not None:
            answer["usageMetadata"] = override
        await exchange.answer(json_reply(200, answer))

    async def stream_generate(self, exchange: Exchange, found) -> None:
        request = exchange.request
        pieces = exchange.pieces(exchange.reply_text(user_text(request)))
        counts = exchange.counts(len(pieces))
        last = len(pieces) - 1
        chunks = [self.chunk(found, p, counts, i == last) for i, p in enumerate(pieces)]
        if exchange.params.get("alt") == "sse":
            return await exchange.stream([sse(c, end=b"\r\n\r\n") for c in chunks])
        # Without alt=sse the answer is one JSON array, sent a chunk at a time.
        parts = [(b"[" if i == 0 else b",\r\n") + orjson.dumps(c) for i, c in enumerate(chunks)]
        await exchange.stream([*parts, b"]"], headers=[(b"content-type", b"application/json")])

    async def count_tokens(self, exchange: Exchange, found) -> None:
        total = exchange.counts(0).prompt
        payload = {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT"}]}
        payload["promptTokensDetails"][0]["tokenCount"] = total
        await exchange.answer(json_reply(200, payload))

    async def embed(self, exchange: Exchange, found) -> None:
        await exchange.answer(json_reply(200, {"embedding": {"values": [0.1, 0.2, 0.3]}}))
