"""Mistral: OpenAI-shaped ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``, whose
streams always end with a chunk carrying ``usage`` and whose requests may hold only the fields
Mistral knows (others get 422, as ``stream_options`` does). Its paths are OpenAI's, so the fake
serves Mistral under a leading ``/mistral`` (a provider URL of ``{fake}/mistral``)."""

from typing import Any

from gateways.fake_upstream.exchange import (
    Exchange,
    Reply,
    bearer_token,
    json_reply,
    refused_key,
    sse,
)
from gateways.fake_upstream.openai import OpenAI
from gateways.fake_upstream.vendor import route

PREFIX = r"\A/mistral(?:/.*)?/v1"
CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "min_tokens",
        "stream",
        "stop",
        "random_seed",
        "metadata",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "top_k",
        "logprobs",
        "top_logprobs",
        "prompt_logprobs",
        "top_prompt_logprobs",
        "n",
        "prediction",
        "parallel_tool_calls",
        "reasoning_effort",
        "prompt_mode",
        "guardrails",
        "prompt_cache_key",
        "service_tier",
        "safe_prompt",
    }
)


class Mistral(OpenAI):
    name = "mistral"
    routes = [
        (route("POST", PREFIX + r"/chat/completions"), "chat_completions"),
        (route("POST", PREFIX + r"/embeddings"), "embeddings"),
        (route("GET", PREFIX + r"/models"), "models"),
    ]

    def refuse(self, exchange: Exchange, found) -> Reply | None:
        key = bearer_token(exchange)
        if not key:
            return json_reply(401, {"message": "No API key found in request", "request_id": ""})
        if refused_key(key):
            return json_reply(401, {"message": "Unauthorized", "request_id": ""})
        return None

    def bad_request(self, message: str) -> Reply:
        return json_reply(400, {"object": "error", "message": message, "type": "invalid_request"})

    async def chat_completions(self, exchange: Exchange, found) -> None:
        request = exchange.request
        unknown = sorted(set(request) - CHAT_FIELDS) if isinstance(request, dict) else []
        if unknown:
            return await exchange.answer(json_reply(422, extra_forbidden(request, unknown)))
        await super().chat_completions(exchange, found)

    def usage(self, counts) -> dict[str, Any]:
        prompt = counts.prompt + counts.cached
        completion = counts.completion
        total = prompt + completion
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}

    def completion_chunks(self, exchange, found, pieces, with_usage) -> list[bytes]:
        # Mistral's last chunk, the one that finishes the choice, always carries usage.
        base = {
            "id": "cmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model_of(exchange, found),
        }
        events = []
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            events.append(sse({**base, "choices": [choice]}))
        final = {"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}
        usage = self.usage(exchange.counts(len(pieces)))
        events.append(sse({**base, "choices": [final], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return events

    async def embeddings(self, exchange: Exchange, found) -> None:
        request = exchange.request
        inputs = request.get("input", "")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        data = [
            {"object": "embedding", "embedding": [0.1, 0.2, 0.3], "index": i}
            for i in range(len(inputs))
        ]
        tokens = 4 * len(inputs)
        usage = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
        payload = {
            "id": "embd-fake",
            "object": "list",
            "data": data,
            "model": request.get("model", ""),
            "usage": usage,
        }
        await exchange.answer(json_reply(200, payload))


def extra_forbidden(request: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    detail = [
        {
            "type": "extra_forbidden",
            "loc": ["body", name],
            "msg": "Extra inputs are not permitted",
            "input": request[name],
        }
        for name in fields
    ]
    return {
        "object": "error",
        "message": {"detail": detail},
        "type": "invalid_request_message_error",
        "param": None,
        "code": None,
    }
