"""Anthropic Messages API: ``x-api-key``, usage split across stream events, its error shape."""

from typing import Any

import orjson

from gateways.adapters.base import ProviderAdapter, Usage

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    502: "api_error",
    504: "timeout_error",
}


class AnthropicAdapter(ProviderAdapter):
    family = "anthropic"
    requests_stream_usage = False  # message_start / message_delta always carry usage
    # Recent Anthropic SDKs send ``Authorization: Bearer`` rather than ``x-api-key``.
    alternate_key_header = (b"authorization", "bearer ")
    native_key_header = b"x-api-key"

    def usage_from_sse_event(self, event: Any, usage: Usage) -> None:
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_start":
            counts = (event.get("message") or {}).get("usage") or {}
        elif kind == "message_delta":
            counts = event.get("usage") or {}
        else:
            return
        if isinstance(counts.get("input_tokens"), int):
            usage["prompt_tokens"] = counts["input_tokens"]
        if isinstance(counts.get("output_tokens"), int):
            usage["completion_tokens"] = counts["output_tokens"]

    def error_body(self, status: int, code: str, message: str) -> bytes:
        kind = _ERROR_TYPES.get(status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
