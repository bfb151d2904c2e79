"""OpenTelemetry traces of a call: one span with the GenAI conventions' attributes, a child per
filter step and per upstream attempt, the trace context carried upstream. The gateway runs in
this process with an in-memory exporter."""

import threading
import time

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deployments.services import deploy
from gateways.dataplane.app import GatewayApp
from guardrails.services import attachment_create
from tests.factories import GatewayFactory, ProviderFactory, ProxyFactory, api_key
from tests.gateway.conftest import free_port, wait_until

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "two words"}]}


@pytest.fixture(scope="module")
def traced(committed, fake_upstream):
    gateway = GatewayFactory(name="traced")
    primary = ProviderFactory(
        name="traced primary",
        template="openai-compatible",
        upstream_url=f"{fake_upstream.url}/tprimary/v1",
        credential="sk-primary",
    )
    backup = ProviderFactory(
        name="traced backup",
        template="openai-compatible",
        upstream_url=f"{fake_upstream.url}/tbackup/v1",
        credential="sk-backup",
    )
    proxy = ProxyFactory(name="traced chat", provider=primary)
    attachment_create(policy="word-count-guardrail", proxy=proxy, params={"request": {"max": 50}})
    attachment_create(
        policy="basic-ratelimit", proxy=proxy, params={"limits": [{"requests": 1000}]}
    )
    attachment_create(
        policy="provider-failover",
        proxy=proxy,
        params={"targets": [{"provider": backup.slug}], "backoff": {"initialMs": 1, "maxMs": 5}},
    )
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = GatewayApp(gateway.slug, heartbeat=False)
    app.tracer = provider.get_tracer("gatehouse.gateway")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10)
    yield f"http://127.0.0.1:{port}/{proxy.slug}", key, exporter, primary, backup
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def one_call(traced, upstream):
    """One guarded, limited call whose first upstream answers 503 and fails over."""
    url, key, exporter, primary, backup = traced
    exporter.clear()
    upstream.fault("/tprimary/", status=503, count=1)
    response = httpx.post(
        f"{url}/chat/completions",
        headers={
            "Authorization": f"Bearer {key}",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
        json=CHAT,
        timeout=10,
    )
    assert response.status_code == 200
    deadline = time.monotonic() + 5
    while not any(s.name.startswith("chat") for s in exporter.get_finished_spans()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    return spans, upstream.received(), primary, backup


def test_the_call_span_carries_the_genai_attributes(one_call):
    spans, *_ = one_call
    call = spans["chat gpt-4o"]
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.provider.name"] == "openai"
    assert call.attributes["gen_ai.request.model"] == "gpt-4o"
    assert call.attributes["gen_ai.usage.input_tokens"] == 10
    assert call.attributes["gen_ai.usage.output_tokens"] > 0
    assert call.attributes["http.response.status_code"] == 200


def test_the_call_continues_the_callers_trace(one_call):
    spans, *_ = one_call
    call = spans["chat gpt-4o"]
    assert format(call.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(call.parent.span_id, "016x") == "b7ad6b7169203331"


def test_guardrails_limits_and_each_attempt_are_child_spans(one_call):
    spans, _, primary, backup = one_call
    call = spans["chat gpt-4o"]
    children = {
        name
        for name, span in spans.items()
        if span.parent and span.parent.span_id == call.context.span_id
    }
    assert {"guardrails request", "rate-limits request", "provider-failover request"} <= children
    assert {f"attempt {primary.slug}", f"attempt {backup.slug}"} <= children
    assert spans[f"attempt {primary.slug}"].attributes["http.response.status_code"] == 503


def test_each_attempt_sends_its_own_trace_context_upstream(one_call):
    spans, received, primary, backup = one_call
    sent = {r["path"].split("/")[1]: r["headers"]["traceparent"] for r in received}
    for prefix, target in (("tprimary", primary), ("tbackup", backup)):
        attempt = spans[f"attempt {target.slug}"]
        _, trace_id, span_id, _ = sent[prefix].split("-")
        assert trace_id == format(attempt.context.trace_id, "032x")
        assert span_id == format(attempt.context.span_id, "016x")
