"""AWS Bedrock runtime. The model ID is in the path (ARNs travel percent-encoded in one segment).

Upstream auth: a Bedrock API key (``Authorization: Bearer``), or AWS keys, an assumed role or
the gateway host's credential chain, with which every call is signed (SigV4, see
``gateways.dataplane.sigv4``).

Usage: Converse answers report ``usage.inputTokens`` / ``outputTokens`` (the template's usage
paths), ConverseStream in its ``metadata`` event; both report cache reads and writes
(``cacheReadInputTokens`` / ``cacheWriteInputTokens``) apart from ``inputTokens``, which the
usage row's prompt counts with it. InvokeModel carries the model's own body:
Anthropic's ``usage.input_tokens`` / ``output_tokens``, else the
``X-Amzn-Bedrock-Input-Token-Count`` / ``-Output-Token-Count`` headers; its stream's chunks
hold the model's own events (Anthropic's ``message_start`` / ``message_delta``) and, on the
last, ``amazon-bedrock-invocationMetrics``.

Streams are AWS event streams: response guardrails judge ``contentBlockDelta.delta.text``
(Converse) and the text of the model's chunks (InvokeModel, Anthropic's ``text_delta``), and
a stream they stop (or the upstream broke off) ends with an exception frame the SDKs raise.
Complete Converse answers keep their text at ``$.output.message.content[0].text`` (set it as
the response ``jsonPath``).
"""

import base64
import binascii
from typing import Any
from urllib.parse import quote, unquote

import orjson

from gateways.dataplane.adapters.anthropic import AnthropicAdapter, merge_messages_usage
from gateways.dataplane.adapters.base import ProviderAdapter, Usage, is_count
from gateways.dataplane.eventstream import (
    EventStream,
    exception_frame,
    frame_length,
    headers_end,
)
from gateways.dataplane.sigv4 import AwsSigner, aws_signer
from gateways.dataplane.streams import StreamCodec

EVENT_STREAM = "application/vnd.amazon.eventstream"
# InvokeModel's answer headers: the tokens of any model.
TOKEN_HEADERS = (
    (b"x-amzn-bedrock-input-token-count", "prompt_tokens"),
    (b"x-amzn-bedrock-output-token-count", "completion_tokens"),
)
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"
# The exception a stream's SDK raises for an error of each status (others: internal).
INTERNAL = "internalServerException"
STREAM_EXCEPTIONS = {
    400: "validationException",
    422: "validationException",
    429: "throttlingException",
    503: "serviceUnavailableException",
}


class BedrockEventStream(EventStream):
    """Bedrock's event streams: an InvokeModel ``chunk`` carries the model's own JSON event
    base64-encoded in ``bytes``; here it reads as that event, and is encoded again when
    rewritten."""

    def data(self, raw: bytes) -> Any:
        data = super().data(raw)
        chunk = data.get("chunk") if data is not None else None
        if isinstance(chunk, dict) and isinstance(chunk.get("bytes"), str):
            try:
                chunk["bytes"] = orjson.loads(base64.b64decode(chunk["bytes"], validate=True))
            except (binascii.Error, orjson.JSONDecodeError):
                return None
        return data

    def with_data(self, raw: bytes, data: Any) -> bytes:
        chunk = data.get("chunk")
        if isinstance(chunk, dict) and not isinstance(chunk.get("bytes"), str):
            encoded = base64.b64encode(orjson.dumps(chunk["bytes"])).decode()
            data = {"chunk": {**chunk, "bytes": encoded}}
        return super().with_data(raw, data)

    def holding(self, events: bytes, marker: bytes) -> list[bytes]:
        # A chunk's payload is encoded: whether it holds usage shows only once decoded, so
        # every frame whose headers name a chunk is read.
        found = []
        pos, size = 0, len(events)
        while pos < size:
            end = pos + frame_length(events, pos)
            chunk = events.find(b"chunk", pos, headers_end(events, pos)) != -1
            if chunk or events.find(marker, pos, end) != -1:
                found.append(events[pos:end])
            pos = end
        return found


class BedrockAdapter(ProviderAdapter):
    family = "aws-bedrock"
    wire_format = "bedrock"
    # Model IDs and ARNs travel encoded (``arn%3Aaws%3Abedrock...%2F...``) in one segment.
    opaque_segment_after = "model"
    requests_stream_usage = False
    sse_usage_marker = b"usage"
    operations = {}  # the model is in the path: see ``operation_of``

    def operation_of(self, resource: str) -> tuple[str, str] | None:
        parts = resource.split("/")
        if len(parts) != 4 or parts[1] != "model":
            return None
        return parts[3], unquote(parts[2])

    def resource_for(self, operation: str, model: str) -> str | None:
        return f"/model/{quote(model, safe='')}/{operation}"

    def __init__(self, provider: dict[str, Any]):
        super().__init__(provider)
        # InvokeModel's bodies and chunks are the model's own: Anthropic's are read as the
        # Messages API's.
        self.anthropic = AnthropicAdapter(provider)

    # --- upstream auth -----------------------------------------------------------------------

    def auth_headers(self, header: str, prefix: str, credential: str) -> list[tuple[str, str]]:
        if not is_api_key(credential):
            return []  # signed per request
        return super().auth_headers(header, prefix, credential)

    def upstream_signer(self, credential: str, upstream_url: str) -> AwsSigner | None:
        return None if is_api_key(credential) else aws_signer(credential, upstream_url)

    # --- usage -------------------------------------------------------------------------------

    def extract_usage(self, parsed: Any) -> Usage | None:
        usage = self.template_usage(parsed)  # Converse
        counts = parsed.get("usage") if isinstance(parsed, dict) else None
        if not isinstance(counts, dict):
            return usage
        if usage:
            add_converse_cache(counts, usage)
            return usage
        found: Usage = {}  # InvokeModel with an Anthropic model
        merge_messages_usage(counts, found)
        return found or None

    def usage_from_headers(
        self, headers: list[tuple[bytes, bytes]], usage: Usage | None
    ) -> Usage | None:
        found = dict(usage or {})
        for name, value in headers:
            for header, field in TOKEN_HEADERS:
                if name == header and field not in found and value.isdigit():
                    found[field] = int(value)
        return found or None

    def usage_from_sse_event(self, event: Any, usage: Usage) -> None:
        if not isinstance(event, dict):
            return
        metadata = event.get("metadata")  # ConverseStream
        if isinstance(metadata, dict):
            found = self.extract_usage(metadata)
            if found:
                usage.update(found)
            return
        model_event = invoke_chunk(event)
        if model_event is None:
            return
        self.anthropic.usage_from_sse_event(model_event, usage)
        metrics = model_event.get(INVOCATION_METRICS)
        if isinstance(metrics, dict):
            if is_count(metrics.get("inputTokenCount")):
                usage.setdefault("prompt_tokens", metrics["inputTokenCount"])
            if is_count(metrics.get("outputTokenCount")):
                usage.setdefault("completion_tokens", metrics["outputTokenCount"])

    # --- streams -----------------------------------------------------------------------------

    def stream_codec(self, content_type: str) -> StreamCodec | None:
        if EVENT_STREAM in content_type:
            return BedrockEventStream()
        return super().stream_codec(content_type)

    def stream_text(self, event: Any) -> str | None:
        if not isinstance(event, dict):
            return None
        block = event.get("contentBlockDelta")  # ConverseStream
        if isinstance(block, dict):
            delta = block.get("delta")
            text = delta.get("text") if isinstance(delta, dict) else None
            return text if isinstance(text, str) and text else None
        model_event = invoke_chunk(event)
        return self.anthropic.stream_text(model_event) if model_event is not None else None

    def with_stream_text(self, event: dict[str, Any], text: str) -> dict[str, Any]:
        if "contentBlockDelta" in event:
            event["contentBlockDelta"]["delta"]["text"] = text
        else:
            self.anthropic.with_stream_text(event["chunk"]["bytes"], text)
        return event

    def stream_error_event(self, codec: StreamCodec, status: int, body: bytes) -> bytes:
        if isinstance(codec, EventStream):
            return exception_frame(STREAM_EXCEPTIONS.get(status, INTERNAL), body)
        return super().stream_error_event(codec, status, body)

    def stream_failure_event(self, codec: StreamCodec, status: int, body: bytes) -> bytes:
        if isinstance(codec, EventStream):
            return exception_frame(STREAM_EXCEPTIONS.get(status, INTERNAL), body)
        return super().stream_failure_event(codec, status, body)

    # --- errors ------------------------------------------------------------------------------

    def error_payload(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"message": message, "code": code}

    def error_object(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload


def add_converse_cache(counts: dict[str, Any], usage: Usage) -> None:
    """Converse reports cache reads (``cacheReadInputTokens``) and writes
    (``cacheWriteInputTokens``) apart from ``inputTokens``: the row's prompt counts them all."""
    read, written = counts.get("cacheReadInputTokens"), counts.get("cacheWriteInputTokens")
    read = read if is_count(read) else None
    written = written if is_count(written) else None
    if read is not None:
        usage["cached_tokens"] = read
    if written:
        usage["cache_write_tokens"] = written
    if "prompt_tokens" in usage:
        usage["prompt_tokens"] += (read or 0) + (written or 0)


def is_api_key(credential: str) -> bool:
    """A Bedrock API key (sent as a bearer token), not AWS keys nor the host's chain."""
    return bool(credential) and not credential.startswith("{")


def invoke_chunk(event: dict[str, Any]) -> dict[str, Any] | None:
    """The model's own event an InvokeModel stream's ``chunk`` carries (decoded)."""
    chunk = event.get("chunk")
    inner = chunk.get("bytes") if isinstance(chunk, dict) else None
    return inner if isinstance(inner, dict) else None
