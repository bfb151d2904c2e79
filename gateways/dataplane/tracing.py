"""OpenTelemetry traces of the gateway's calls: opt-in through the standard ``OTEL_*``
environment variables (``OTEL_TRACES_EXPORTER=otlp`` or ``console``, or an
``OTEL_EXPORTER_OTLP_ENDPOINT``; ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``), nothing
at all when they are not set (no tracer: the request path checks one attribute).

A call is one span with the GenAI semantic conventions' attributes (provider, operation,
requested and answering model, token usage); each filter step and each upstream attempt is a
child span, and the attempt's W3C ``traceparent`` goes upstream with the request.
"""

import os
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

INSTRUMENTATION = "gatehouse.gateway"
# gen_ai.provider.name (and the older gen_ai.system) by provider family.
PROVIDER_NAMES = {
    "openai": "openai",
    "openai-compatible": "openai",
    "azure-openai": "azure.ai.openai",
    "azure-ai-foundry": "azure.ai.inference",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "aws-bedrock": "aws.bedrock",
}
# gen_ai.operation.name by the operation a resource names (see the adapters' operation_of).
OPERATIONS = {
    "chat.completions": "chat",
    "messages": "chat",
    "responses": "chat",
    "converse": "chat",
    "converse-stream": "chat",
    "invoke": "chat",
    "invoke-with-response-stream": "chat",
    "embeddings": "embeddings",
    "completions": "text_completion",
}


def enabled_by_environment() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none" or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    return bool(exporter) or bool(endpoint)


def tracer_from_environment() -> Tracer | None:
    """The gateway's tracer as the ``OTEL_*`` variables configure it, or None (off)."""
    if not enabled_by_environment():
        return None
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if exporter_name == "console":
        exporter: Any = ConsoleSpanExporter()
    else:
        exporter = OTLPSpanExporter()  # endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "gatehouse"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider.get_tracer(INSTRUMENTATION)


def operation_name(adapter: Any, resource: str) -> str:
    """gen_ai.operation.name for a call to ``resource``."""
    found = adapter.operation_of(resource)
    if found is None:
        return resource
    operation = found[0]
    if ":" in operation:  # Gemini: "v1beta:generateContent"
        return "generate_content" if "generate" in operation.lower() else operation
    return OPERATIONS.get(operation, operation)


def start_call_span(tracer: Tracer, scope: dict[str, Any]) -> Any:
    """The span of one call, a child of the caller's trace when it sent a ``traceparent``."""
    carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    return tracer.start_span("gateway call", context=extract(carrier), kind=SpanKind.SERVER)


def start_child(tracer: Tracer, parent: Any, name: str, kind: SpanKind = SpanKind.INTERNAL) -> Any:
    return tracer.start_span(name, context=trace.set_span_in_context(parent), kind=kind)


def traceparent_headers(span: Any) -> list[tuple[str, str]]:
    """The W3C trace context of ``span``, as headers for the upstream request."""
    carrier: dict[str, str] = {}
    inject(carrier, context=trace.set_span_in_context(span))
    return list(carrier.items())


def end_call_span(span: Any, call: Any, gateway: str) -> None:
    """Name the call's span as the GenAI conventions say and set what it found out."""
    route = call.route
    operation = operation_name(route.adapter, call.resource)
    provider = PROVIDER_NAMES.get(route.adapter.family, route.adapter.family)
    span.update_name(f"{operation} {call.model}" if call.model else operation)
    attributes = {
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.operation.name": operation,
        "http.request.method": call.method,
        "http.response.status_code": call.status,
        "url.path": call.resource,
        "gatehouse.gateway": gateway,
        "gatehouse.proxy": route.proxy,
        "gatehouse.provider": route.provider,
        "gatehouse.outcome": call.outcome,
    }
    if call.model:
        attributes["gen_ai.request.model"] = call.model
        attributes["gen_ai.response.model"] = call.response_model or call.model
    usage = call.usage or {}
    if usage.get("prompt_tokens") is not None:
        attributes["gen_ai.usage.input_tokens"] = usage["prompt_tokens"]
    if usage.get("completion_tokens") is not None:
        attributes["gen_ai.usage.output_tokens"] = usage["completion_tokens"]
    if usage.get("cached_tokens"):
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage["cached_tokens"]
    if call.reason:
        attributes["gatehouse.reason"] = call.reason
    span.set_attributes(attributes)
    if call.outcome != "ok":
        span.set_status(Status(StatusCode.ERROR, call.reason or call.outcome))
    span.end()
