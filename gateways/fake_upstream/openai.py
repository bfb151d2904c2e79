"""OpenAI: chat completions (plain and SSE, usage on the last chunk when
``stream_options.include_usage`` asks), embeddings, models, and the Responses API (plain and
its typed SSE events). ``Authorization: Bearer`` is required; usage reports cached input
tokens as ``prompt_tokens_details.cached_tokens`` (Responses:
``input_tokens_details.cached_tokens``), counted inside ``prompt_tokens``."""

import time
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

NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


def auth_error(message: str, code: str | None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


def bearer_refusal(exchange: Exchange) -> Reply | None:
    """OpenAI's answer to a request without a usable ``Authorization: Bearer`` key."""
    key = bearer_token(exchange)
    if not key:
        return json_reply(401, auth_error(NO_KEY, None))
    if refused_key(key):
        message = f"Incorrect API key provided: {key[:3]}***. Check the key and try again."
        return json_reply(401, auth_error(message, "invalid_api_key"))
    return None


def chat_usage(counts: Counts) -> dict[str, Any]:
    prompt = counts.prompt + counts.cached
    return {
        "prompt_tokens": prompt,
        "completion_tokens": counts.completion,
        "total_tokens": prompt + counts.completion,
        "prompt_tokens_details": {"cached_tokens": counts.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def response_usage(counts: Counts) -> dict[str, Any]:
    prompt = counts.prompt + counts.cached
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": counts.cached},
        "output_tokens": counts.completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + counts.completion,
    }


def last_text(request: dict) -> str:
    """The last message's text, as the default answer echoes it ("..." for parts)."""
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    return content if isinstance(content, str) else "..."


class OpenAI(Vendor):
    name = "openai"
    routes = [
        (route("POST", r"/chat/completions"), "chat_completions"),
        (route("POST", r"/embeddings"), "embeddings"),
        (route("POST", r"/responses"), "responses"),
        (route("GET", r"/models"), "models"),
        (route("GET", r"/models/(?P<model>[^/]+)"), "model"),
    ]

    def refuse(self, exchange, found):
        return bearer_refusal(exchange)

    def model_of(self, exchange: Exchange, found) -> str:
        model = exchange.request.get("model") if isinstance(exchange.request, dict) else None
        return model if isinstance(model, str) else "fake-model"

    # --- chat completions --------------------------------------------------------------------

    def usage(self, counts: Counts) -> dict[str, Any]:
        return chat_usage(counts)

    def completion(self, exchange: Exchange, found, text: str, counts: Counts) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_of(exchange, found),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self.usage(counts),
            "system_fingerprint": "fp_fake",
        }

    def completion_chunks(
        self, exchange: Exchange, found, pieces: list[str], with_usage: bool
    ) -> list[bytes]:
        model = self.model_of(exchange, found)
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        events = []
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            events.append(sse({**base, "choices": [choice]}))
        final = {"index": 0, "delta": {}, "finish_reason": "stop"}
        events.append(sse({**base, "choices": [final]}))
        if with_usage:
            usage = self.usage(exchange.counts(len(pieces)))
            events.append(sse({**base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return events

    async def chat_completions(self, exchange: Exchange, found) -> None:
        request = exchange.request
        reply = exchange.reply_text(last_user_text(request.get("messages")))
        pieces = exchange.pieces(reply)
        if request.get("stream"):
            with_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            return await exchange.stream(
                self.completion_chunks(exchange, found, pieces, with_usage)
            )
        text = f"echo: {last_text(request)}" if reply is None else reply
        completion = self.completion(exchange, found, text, exchange.counts(len(pieces)))
        override = exchange.usage_override()
        if override is not None:
            completion["usage"] = override
        await exchange.answer(json_reply(200, completion))

    # --- embeddings and models ---------------------------------------------------------------

    async def embeddings(self, exchange: Exchange, found) -> None:
        request = exchange.request
        inputs = request.get("input", "")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
            for i in range(len(inputs))
        ]
        usage = {"prompt_tokens": 4 * len(inputs), "total_tokens": 4 * len(inputs)}
        model = request.get("model", "")
        payload = {"object": "list", "data": data, "model": model, "usage": usage}
        await exchange.answer(json_reply(200, payload))

    async def models(self, exchange: Exchange, found) -> None:
        models = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
        await exchange.answer(json_reply(200, models))

    async def model(self, exchange: Exchange, found) -> None:
        await exchange.answer(json_reply(200, {"id": found["model"], "object": "model"}))

    # --- the Responses API -------------------------------------------------------------------

    def response(
        self, exchange: Exchange, found, text: str | None, counts: Counts | None
    ) -> dict[str, Any]:
        """A response object: completed with ``text``, or in progress (``text`` None)."""
        request = exchange.request
        output = [] if text is None else [message_item(text, "completed")]
        return {
            "id": "resp_fake",
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress" if text is None else "completed",
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "model": self.model_of(exchange, found),
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None if counts is None else response_usage(counts),
            "user": None,
            "metadata": {},
        }

    async def responses(self, exchange: Exchange, found) -> None:
        request = exchange.request
        reply = exchange.reply_text(input_text(request.get("input")))
        pieces = exchange.pieces(reply)
        counts = exchange.counts(len(pieces))
        if request.get("stream"):
            return await exchange.stream(self.response_events(exchange, found, pieces, counts))
        text = f"echo: {input_text(request.get('input'))}" if reply is None else reply
        response = self.response(exchange, found, text, counts)
        override = exchange.usage_override()
        if override is not None:
            response["usage"] = override
        await exchange.answer(json_reply(200, response))

    def response_events(
        self, exchange: Exchange, found, pieces: list[str], counts: Counts
    ) -> list[bytes]:
        text = "".join(pieces)
        started = self.response(exchange, found, None, None)
        place = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
        part = {"type": "output_text", "text": "", "annotations": []}
        steps: list[dict[str, Any]] = [
            {"type": "response.created", "response": started},
            {"type": "response.in_progress", "response": started},
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": message_item("", "in_progress", content=[]),
            },
            {"type": "response.content_part.added", **place, "part": part},
            *(
                {"type": "response.output_text.delta", **place, "delta": piece, "logprobs": []}
                for piece in pieces
            ),
            {"type": "response.output_text.done", **place, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **place, "part": {**part, "text": text}},
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": message_item(text, "completed"),
            },
            {
                "type": "response.completed",
                "response": self.response(exchange, found, text, counts),
            },
        ]
        return [
            sse({**step, "sequence_number": number}, step["type"])
            for number, step in enumerate(steps)
        ]


def message_item(text: str, status: str, content: list | None = None) -> dict[str, Any]:
    """An output message item of the Responses API."""
    if content is None:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "id": "msg_fake",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def input_text(value: Any) -> str:
    """The last user text of a Responses API ``input``: a string or a list of items."""
    if isinstance(value, str):
        return value
    return last_user_text(value)
