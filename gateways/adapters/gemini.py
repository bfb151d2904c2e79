"""Gemini: ``x-goog-api-key``, the model in the path, ``usageMetadata`` on every chunk; its
OpenAI-compatible routes (``/v1beta/openai/...``) behave like OpenAI."""

from typing import Any

import orjson

from gateways.adapters.base import ProviderAdapter

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    502: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GeminiAdapter(ProviderAdapter):
    family = "gemini"
    sse_usage_marker = b"usage"  # usageMetadata natively, "usage" on the OpenAI routes

    def request_model(self, resource: str, parsed: Any) -> str:
        if resource.startswith("/v1beta/openai/"):
            value = parsed.get("model") if isinstance(parsed, dict) else None
            return value if isinstance(value, str) else ""
        return super().request_model(resource, parsed)

    def prepare_body(self, resource: str, parsed: Any) -> bool:
        return resource.startswith("/v1beta/openai/") and super().prepare_body(resource, parsed)

    def extract_usage(self, parsed: Any):
        usage = super().extract_usage(parsed)
        if usage is None and isinstance(parsed, dict) and isinstance(parsed.get("usage"), dict):
            counts = parsed["usage"]
            usage = {
                k: v for k, v in counts.items() if k.endswith("_tokens") and isinstance(v, int)
            }
        return usage

    def error_body(self, status: int, code: str, message: str) -> bytes:
        # One body both shapes can read: Google clients look at error.status, OpenAI's at
        # error.type; the OpenAI-compatible routes are what most SDK users call.
        return orjson.dumps(
            {
                "error": {
                    "code": code,
                    "message": message,
                    "status": _STATUS_NAMES.get(status, "INTERNAL"),
                    "type": "invalid_request_error" if status < 500 else "api_error",
                }
            }
        )
