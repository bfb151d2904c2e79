"""The provider adapter interface: everything that differs between provider APIs (upstream
URL, credential header, model location, usage fields, error shape, where streamed text lives)
lives behind it, so the relay never asks which provider it is talking to."""

import re
from typing import Any, ClassVar
from urllib.parse import quote

import orjson
from yarl import URL

from gateways.dataplane.sse import ServerSentEvents
from gateways.dataplane.streams import StreamCodec
from guardrails.catalog.content import RESPONSE_JSON_PATH
from guardrails.engine import GUARDRAIL_INTERVENED, Intervention, intervention_body

# Token counts, one meaning for every API (docs/gateway.md, "Usage records"):
# ``prompt_tokens`` every input token, read from a prompt cache or not; ``cached_tokens`` those
# read from the cache; ``cache_write_tokens`` those written to it (priced above plain input);
# ``completion_tokens`` every output token, reasoning included; ``total_tokens`` both.
Usage = dict[str, int]

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
}


# Where OpenAI-shaped usage objects keep each count: Chat Completions' name, then the
# Responses API's.
USAGE_NAMES = (
    ("prompt_tokens", ("prompt_tokens", "input_tokens")),
    ("completion_tokens", ("completion_tokens", "output_tokens")),
    ("total_tokens", ("total_tokens",)),
)


def compile_json_path(path: str) -> tuple[str, ...]:
    """``$.usage.prompt_tokens`` → ``("usage", "prompt_tokens")``; empty path → ``()``."""
    path = (path or "").strip()
    if path.startswith("$"):
        path = path[1:]
    return tuple(p for p in path.split(".") if p)


def is_count(value: Any) -> bool:
    """Whether an upstream's token count is one: a whole number, not negative (a count that
    is not would give budget back to the limits it is charged to)."""
    return type(value) is int and value >= 0


def lookup(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class ProviderAdapter:
    """OpenAI-shaped defaults; subclasses override only what their API does differently."""

    family: ClassVar[str] = "openai"
    # Providers of one wire format can stand in for each other (see ``wire_format``).
    wire_format: ClassVar[str] = "openai"
    # SSE events worth parsing for usage contain this; the rest are relayed untouched.
    sse_usage_marker: ClassVar[bytes] = b'"usage"'
    # Whether this API takes ``stream_options.include_usage`` (so the last stream chunk
    # carries usage); the provider's ``stream_usage`` setting decides whether it is asked.
    requests_stream_usage: ClassVar[bool] = True
    # Another header this API's SDKs may carry the caller's key in: (name, value prefix),
    # honoured only while the proxy uses the API's native key header.
    alternate_key_header: ClassVar[tuple[bytes, str] | None] = None
    native_key_header: ClassVar[bytes] = b"authorization"
    # Where a complete response's text lives when a guardrail's response ``jsonPath`` was
    # left at the (OpenAI-shaped) default; None keeps the default.
    response_text_path: ClassVar[str | None] = None
    # The error ``type`` a guardrail intervention (422) carries in this API's error shape.
    guardrail_error_type: ClassVar[str] = "guardrail_intervened"
    # The literal path segment after which one segment is opaque: kept encoded, forwarded as
    # the caller encoded it, and the request's model (see ``gateways.dataplane.paths``).
    opaque_segment_after: ClassVar[str | None] = None
    # The operations another provider of the same wire format can serve too, by this API's
    # resource path (failover maps a request from one provider's path to another's).
    operations: ClassVar[dict[str, str]] = {
        "/chat/completions": "chat.completions",
        "/completions": "completions",
        "/embeddings": "embeddings",
        "/responses": "responses",
    }

    def __init__(self, provider: dict[str, Any]):
        paths = provider.get("usage_paths") or {}
        self.prompt_path = compile_json_path(paths.get("prompt_tokens", ""))
        self.completion_path = compile_json_path(paths.get("completion_tokens", ""))
        self.total_path = compile_json_path(paths.get("total_tokens", ""))
        self.stream_usage = self.requests_stream_usage and provider.get("stream_usage", True)
        location = provider.get("model_location") or {}
        self.model_source = location.get("source", "payload")
        self.model_path = compile_json_path(location.get("path", "$.model"))
        pattern = location.get("pattern") or ""
        self.model_pattern = re.compile(pattern) if pattern else None

    # --- request -----------------------------------------------------------------------------

    def upstream_url(self, base: str, resource: str, query: str) -> URL:
        """The upstream URL for a raw (still percent-encoded) resource path and query, sent
        byte for byte as built: the client must not decode or normalise what was checked."""
        return URL(f"{base}{resource}?{query}" if query else f"{base}{resource}", encoded=True)

    def auth_headers(self, header: str, prefix: str, credential: str) -> list[tuple[str, str]]:
        if not credential or not header:
            return []
        return [(header, f"{prefix}{credential}")]

    def upstream_signer(self, credential: str, upstream_url: str) -> Any:
        """What signs each upstream request (``sign(method, url, headers, body)``, async,
        giving the headers to send), for APIs whose credential is a signing key rather than a
        header; None where ``auth_headers`` are all it takes."""
        return None

    def operation_of(self, resource: str) -> tuple[str, str] | None:
        """The operation a resource path asks for, and the model the path names ("" when the
        body names it): what another provider of this wire format is asked instead. None when
        only this provider serves the path."""
        operation = self.operations.get(resource)
        return (operation, "") if operation is not None else None

    def resource_for(self, operation: str, model: str) -> str | None:
        """The raw resource path of ``operation`` on this API (``model``: for APIs that name the
        model in the path); None when this API does not offer it."""
        for resource, offered in self.operations.items():
            if offered == operation:
                return resource
        return None

    def with_model(
        self, resource: str, raw_resource: str, parsed: Any, model: str
    ) -> tuple[str, str]:
        """Ask for ``model`` instead (a routing policy chose it): in the body, changed in
        place, or in the path; returns the (checked, raw) resource paths to send."""
        if self.model_source != "path":
            if isinstance(parsed, dict) and self.model_path:
                container = parsed
                for key in self.model_path[:-1]:
                    container = container.setdefault(key, {})
                container[self.model_path[-1]] = model
            return resource, raw_resource
        checked, raw = resource.split("/"), raw_resource.split("/")
        if self.opaque_segment_after:
            # The segment after the literal one is the model, encoded whole.
            after = self.opaque_segment_after
            found = [i + 1 for i, part in enumerate(checked[:-1]) if part == after]
            if not found:
                return resource, raw_resource
            checked[found[0]] = raw[found[0]] = quote(model, safe="")
            return "/".join(checked), "/".join(raw)
        match = self.model_pattern.search(resource) if self.model_pattern else None
        if match is None:
            return resource, raw_resource
        start, end = match.span(1)
        replaced = (resource[:start] + model + resource[end:]).split("/")
        for index, (before, after) in enumerate(zip(checked, replaced, strict=True)):
            if before != after:
                raw[index] = quote(after, safe=":")
        return "/".join(replaced), "/".join(raw)

    def request_model(self, resource: str, parsed: Any, opaque: str = "") -> str:
        """The model a request asks for, from its body or its (checked) path per the template;
        ``opaque``: the decoded opaque segment, which is the model where the API has one."""
        if self.model_source == "path":
            if opaque:
                return opaque
            match = self.model_pattern.search(resource) if self.model_pattern else None
            return match.group(1) if match else ""
        value = lookup(parsed, self.model_path) if parsed is not None else None
        return value if isinstance(value, str) else ""

    def prepare_body(self, resource: str, parsed: Any) -> bool:
        """Adjust the parsed request before it goes upstream; True when it changed: a streamed
        chat completion asks for usage, unless the caller said whether it wants it."""
        if not self.stream_usage or not isinstance(parsed, dict):
            return False
        if parsed.get("stream") is not True or not resource.endswith("completions"):
            return False
        options = parsed.get("stream_options")
        if options is not None and not isinstance(options, dict):
            return False  # not ours to repair
        if options is not None and "include_usage" in options:
            return False
        parsed["stream_options"] = {**(options or {}), "include_usage": True}
        return True

    # --- response ----------------------------------------------------------------------------

    def extract_usage(self, parsed: Any) -> Usage | None:
        """Token counts from a complete response body, or None when it carries none: the
        template's usage paths, completed from an OpenAI-shaped ``usage`` object (Chat
        Completions or the Responses API, cached input included)."""
        usage = self.template_usage(parsed)
        counts = parsed.get("usage") if isinstance(parsed, dict) else None
        if isinstance(counts, dict):
            found = openai_usage(counts)
            if found:
                usage = {**found, **(usage or {})}
        return usage

    def template_usage(self, parsed: Any) -> Usage | None:
        """Token counts at the template's usage paths, or None when none is there."""
        prompt = lookup(parsed, self.prompt_path) if self.prompt_path else None
        completion = lookup(parsed, self.completion_path) if self.completion_path else None
        total = lookup(parsed, self.total_path) if self.total_path else None
        if prompt is None and completion is None and total is None:
            return None
        usage: Usage = {}
        if is_count(prompt):
            usage["prompt_tokens"] = prompt
        if is_count(completion):
            usage["completion_tokens"] = completion
        if is_count(total):
            usage["total_tokens"] = total
        return usage

    def usage_from_headers(
        self, headers: list[tuple[bytes, bytes]], usage: Usage | None
    ) -> Usage | None:
        """``usage`` (read from a complete answer's body) with what the answer's headers
        report besides; most APIs report nothing there."""
        return usage

    def usage_from_sse_event(self, event: Any, usage: Usage) -> None:
        """Merge the token counts one stream event carries into ``usage``: a chunk's own, or
        those of the response a Responses API event carries (``response.completed``)."""
        if isinstance(event, dict) and isinstance(event.get("response"), dict):
            event = event["response"]
        found = self.extract_usage(event)
        if found:
            usage.update(found)

    def response_model(self, parsed: Any) -> str:
        value = parsed.get("model") if isinstance(parsed, dict) else None
        return value if isinstance(value, str) else ""

    # --- streamed text (response guardrails) -------------------------------------------------

    def stream_text(self, event: Any) -> str | None:
        """The text delta one parsed SSE event carries, or None when it carries no text.

        Chat completions (``choices[0].delta.content``), legacy completions
        (``choices[0].text``) and Responses API ``response.output_text.delta`` events."""
        if not isinstance(event, dict):
            return None
        choices = event.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                return text if isinstance(text, str) and text else None
            text = choice.get("text")
            return text if isinstance(text, str) and text else None
        if event.get("type") == "response.output_text.delta":
            text = event.get("delta")
            return text if isinstance(text, str) and text else None
        return None

    def with_stream_text(self, event: dict[str, Any], text: str) -> dict[str, Any]:
        """``event`` with its text delta replaced by ``text`` (changed in place)."""
        choices = event.get("choices")
        if isinstance(choices, list) and choices:
            choice = choices[0]
            if isinstance(choice.get("delta"), dict):
                choice["delta"]["content"] = text
            else:
                choice["text"] = text
        else:
            event["delta"] = text
        return event

    def stream_codec(self, content_type: str) -> StreamCodec | None:
        """How this API streams an answer of ``content_type``; None when it is not a stream."""
        return ServerSentEvents() if "text/event-stream" in content_type else None

    def sse_error_event(self, body: bytes) -> bytes:
        """An error event ending a stream, as this API's SDKs read it."""
        return b"data: " + body + b"\n\n"

    def stream_error_event(self, codec: StreamCodec, status: int, body: bytes) -> bytes:
        """The error (of ``status``) ending a stream in ``codec``'s format: server-sent
        events unless the API streams another way."""
        return self.sse_error_event(body)

    def stream_failure_event(self, codec: StreamCodec, status: int, body: bytes) -> bytes:
        """The error ending a stream the upstream broke off (timed out, closed early): an SSE
        ``error`` event unless the API streams another way."""
        return b"event: error\ndata: " + body + b"\n\n"

    # --- guardrails --------------------------------------------------------------------------

    def guardrail_attachment(self, attachment: dict[str, Any]) -> dict[str, Any]:
        """The attachment to compile for this API: a response ``jsonPath`` left at the
        OpenAI-shaped default points where this API's responses keep their text."""
        target = self.response_text_path
        params = attachment.get("params")
        if target is None or not isinstance(params, dict):
            return attachment
        response = params.get("response")
        if not isinstance(response, dict) or response.get("jsonPath") != RESPONSE_JSON_PATH:
            return attachment
        return {**attachment, "params": {**params, "response": {**response, "jsonPath": target}}}

    def guardrail_error_body(self, intervention: Intervention) -> bytes:
        """The error body for a guardrail or prompt-policy intervention: this API's error shape
        (so its SDK raises its typed error with a readable message) carrying the reference
        fields (``action``, ``interveningGuardrail``, ``direction``, ``actionReason``,
        ``assessments`` only with ``showAssessment``)."""
        status = intervention.status
        reference = intervention_body(intervention)
        if status != 422:
            payload = self.error_payload(status, intervention.type, intervention.reason)
            self.error_object(payload).setdefault("code", intervention.type)
            return orjson.dumps(payload)
        payload = self.error_payload(status, GUARDRAIL_INTERVENED, intervention.message)
        error = self.error_object(payload)
        error["type"] = self.guardrail_error_type
        error["code"] = GUARDRAIL_INTERVENED
        error["guardrail_type"] = reference["type"]
        error.update(reference["message"])
        return orjson.dumps(payload)

    # --- errors ------------------------------------------------------------------------------

    def error_payload(self, status: int, code: str, message: str) -> dict[str, Any]:
        """An error in the shape this API's SDKs parse into typed exceptions."""
        kind = _STATUS_TYPES.get(status, "api_error")
        return {"error": {"message": message, "type": kind, "code": code}}

    def error_object(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The object inside ``payload`` that describes the error (extra fields go there)."""
        return payload["error"]

    def error_body(self, status: int, code: str, message: str) -> bytes:
        return orjson.dumps(self.error_payload(status, code, message))


def openai_usage(counts: dict[str, Any]) -> Usage:
    """An OpenAI-shaped ``usage`` object's counts: Chat Completions' ``prompt_tokens`` /
    ``completion_tokens`` or the Responses API's ``input_tokens`` / ``output_tokens``, with
    the cached input (``prompt_tokens_details`` / ``input_tokens_details.cached_tokens``), which
    both count inside the prompt."""
    usage: Usage = {}
    for field, names in USAGE_NAMES:
        for name in names:
            value = counts.get(name)
            if is_count(value):
                usage[field] = value
                break
    for name in ("prompt_tokens_details", "input_tokens_details"):
        details = counts.get(name)
        if isinstance(details, dict) and is_count(details.get("cached_tokens")):
            usage["cached_tokens"] = details["cached_tokens"]
            break
    return usage


def finish_usage(usage: Usage) -> Usage:
    """Fill in the total when the API reports only its parts."""
    if "total_tokens" not in usage and ("prompt_tokens" in usage or "completion_tokens" in usage):
        usage["total_tokens"] = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    return usage


def neutral_error_body(status: int, code: str, message: str) -> bytes:
    """For requests that match no proxy: readable by both OpenAI- and Anthropic-style SDKs."""
    kind = _STATUS_TYPES.get(status, "api_error")
    return orjson.dumps(
        {"type": "error", "error": {"type": kind, "message": message, "code": code}}
    )
