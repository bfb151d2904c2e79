"""Anthropic Messages API: ``x-api-key``, usage split across stream events, its error shape.

Response guardrails: a content guardrail whose response ``jsonPath`` is left at the default
(``$.choices[0].message.content``, the OpenAI shape) reads ``$.content[0].text`` here, the text
of a Messages API answer; any other ``jsonPath`` is used as given. Streamed answers are judged
on their ``content_block_delta`` / ``text_delta`` events.

Usage: ``input_tokens`` counts only the input read neither from nor into the prompt cache;
cache reads (``cache_read_input_tokens``) and writes (``cache_creation_input_tokens``) are
reported beside it. The usage row's prompt counts all three, its ``cached_tokens`` the reads;
the writes go to the row's details and are priced at the model's cache-write price.
"""

from typing import Any

from gateways.dataplane.adapters.base import ProviderAdapter, Usage, is_count

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}


class AnthropicAdapter(ProviderAdapter):
    family = "anthropic"
    operations = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}
    wire_format = "anthropic"
    requests_stream_usage = False  # message_start / message_delta always carry usage
    # Recent Anthropic SDKs send ``Authorization: Bearer`` rather than ``x-api-key``.
    alternate_key_header = (b"authorization", "bearer ")
    native_key_header = b"x-api-key"
    response_text_path = "$.content[0].text"
    # Anthropic clients know a fixed set of error types; the guardrail details ride along.
    guardrail_error_type = "invalid_request_error"

    def extract_usage(self, parsed: Any) -> Usage | None:
        counts = parsed.get("usage") if isinstance(parsed, dict) else None
        if not isinstance(counts, dict):
            return self.template_usage(parsed)
        usage: Usage = {}
        merge_messages_usage(counts, usage)
        return usage

    def usage_from_sse_event(self, event: Any, usage: Usage) -> None:
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            counts = message.get("usage") if isinstance(message, dict) else None
        elif kind == "message_delta":
            counts = event.get("usage")
        else:
            return
        if isinstance(counts, dict):
            merge_messages_usage(counts, usage)

    def stream_text(self, event: Any) -> str | None:
        if not isinstance(event, dict) or event.get("type") != "content_block_delta":
            return None
        delta = event.get("delta")
        if not isinstance(delta, dict) or delta.get("type") != "text_delta":
            return None
        text = delta.get("text")
        return text if isinstance(text, str) and text else None

    def with_stream_text(self, event: dict[str, Any], text: str) -> dict[str, Any]:
        event["delta"]["text"] = text
        return event

    def sse_error_event(self, body: bytes) -> bytes:
        # The Anthropic SDKs only look at events that name their type.
        return b"event: error\ndata: " + body + b"\n\n"

    def error_payload(self, status: int, code: str, message: str) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}


def merge_messages_usage(counts: dict[str, Any], usage: Usage) -> None:
    """Merge one Messages API ``usage`` object into ``usage`` (a stream's ``message_start``
    and ``message_delta`` each carry one; a later one may repeat or update the counts): the
    prompt is the uncached input plus the cache reads and writes."""
    before = usage.get("cached_tokens", 0) + usage.get("cache_write_tokens", 0)
    if is_count(counts.get("cache_read_input_tokens")):
        usage["cached_tokens"] = counts["cache_read_input_tokens"]
    if is_count(counts.get("cache_creation_input_tokens")):
        usage["cache_write_tokens"] = counts["cache_creation_input_tokens"]
    cache = usage.get("cached_tokens", 0) + usage.get("cache_write_tokens", 0)
    if is_count(counts.get("input_tokens")):
        usage["prompt_tokens"] = counts["input_tokens"] + cache
    elif "prompt_tokens" in usage:
        usage["prompt_tokens"] += cache - before
    if is_count(counts.get("output_tokens")):
        usage["completion_tokens"] = counts["output_tokens"]
