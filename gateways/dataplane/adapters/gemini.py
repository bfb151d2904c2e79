"""Gemini: ``x-goog-api-key``, the model in the path, ``usageMetadata`` on every chunk; its
OpenAI-compatible routes (``/v1beta/openai/...``) behave like OpenAI.

Usage: ``promptTokenCount`` includes the cached content (``cachedContentTokenCount``, the
row's ``cached_tokens``); the tool-use prompt (``toolUsePromptTokenCount``) and thinking
(``thoughtsTokenCount``) are reported apart and added to the prompt and the completion, as
Google bills them.

Response guardrails keep their OpenAI-shaped default ``jsonPath`` here, since most clients call
the OpenAI-compatible routes; for the native ``generateContent`` API set the response
``jsonPath`` to ``$.candidates[0].content.parts[0].text``. Streams are judged in both shapes.
"""

import re
from typing import Any
from urllib.parse import quote

from gateways.dataplane.adapters.base import ProviderAdapter, Usage, is_count

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


# The native routes: /{version}/models/{model}:{method}.
_MODEL_ROUTE = re.compile(r"/(v1|v1beta)/models/([^/:]+):([A-Za-z]+)")


class GeminiAdapter(ProviderAdapter):
    family = "gemini"
    wire_format = "gemini"
    sse_usage_marker = b"usage"  # usageMetadata natively, "usage" on the OpenAI routes
    operations = {}  # the model is in the path: see ``operation_of``

    def operation_of(self, resource: str) -> tuple[str, str] | None:
        match = _MODEL_ROUTE.fullmatch(resource)
        if match is None:
            return None
        version, model, method = match.groups()
        return f"{version}:{method}", model

    def resource_for(self, operation: str, model: str) -> str | None:
        version, _, method = operation.partition(":")
        return f"/{version}/models/{quote(model, safe='')}:{method}" if method else None

    def request_model(self, resource: str, parsed: Any, opaque: str = "") -> str:
        if resource.startswith("/v1beta/openai/"):
            value = parsed.get("model") if isinstance(parsed, dict) else None
            return value if isinstance(value, str) else ""
        return super().request_model(resource, parsed, opaque)

    def prepare_body(self, resource: str, parsed: Any) -> bool:
        return resource.startswith("/v1beta/openai/") and super().prepare_body(resource, parsed)

    def extract_usage(self, parsed: Any) -> Usage | None:
        # The OpenAI-compatible routes' ``usage`` is read by the base class.
        usage = super().extract_usage(parsed)
        metadata = parsed.get("usageMetadata") if isinstance(parsed, dict) else None
        if usage is None or not isinstance(metadata, dict):
            return usage
        # ``promptTokenCount`` already holds the cached content; the tool-use prompt and the
        # thinking tokens are counted apart, billed as input and output.
        if is_count(metadata.get("cachedContentTokenCount")):
            usage["cached_tokens"] = metadata["cachedContentTokenCount"]
        tool_prompt = metadata.get("toolUsePromptTokenCount")
        if "prompt_tokens" in usage and is_count(tool_prompt):
            usage["prompt_tokens"] += tool_prompt
        thoughts = metadata.get("thoughtsTokenCount")
        if "completion_tokens" in usage and is_count(thoughts):
            usage["completion_tokens"] += thoughts
        return usage

    def stream_text(self, event: Any) -> str | None:
        text = super().stream_text(event)
        if text is not None or not isinstance(event, dict):
            return text
        part = _first_part(event)
        value = part.get("text") if part is not None else None
        return value if isinstance(value, str) and value else None

    def with_stream_text(self, event: dict[str, Any], text: str) -> dict[str, Any]:
        part = _first_part(event)
        if part is None:
            return super().with_stream_text(event, text)
        part["text"] = text
        return event

    def error_payload(self, status: int, code: str, message: str) -> dict[str, Any]:
        # One body both shapes can read: Google clients look at error.status, OpenAI's at
        # error.type; the OpenAI-compatible routes are what most SDK users call.
        return {
            "error": {
                "code": code,
                "message": message,
                "status": _STATUS_NAMES.get(status, "INTERNAL"),
                "type": "invalid_request_error" if status < 500 else "api_error",
            }
        }


def _first_part(event: dict[str, Any]) -> dict[str, Any] | None:
    """``candidates[0].content.parts[0]`` of a native streamGenerateContent event."""
    candidates = event.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        return None
    content = candidates[0].get("content") if isinstance(candidates[0], dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts or not isinstance(parts[0], dict):
        return None
    return parts[0]
