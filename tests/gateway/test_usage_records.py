"""Every request leaves a usage record, written in batches off the request path."""

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateways.models import UsageRecord
from tests.gateway.conftest import wait_until

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def since(world):
    """Only records written after this test started."""
    last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return UsageRecord.objects.filter(id__gt=last)


def post(world, key=None, stream=False, **headers):
    return httpx.post(
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {key or world.openai_key}", **headers},
        json={**CHAT, "stream": stream},
        timeout=30,
    )


def one_record(records):
    return wait_until(lambda: records.first() if records.count() == 1 else None, timeout=5)


def test_plain_request_records_tokens_and_latencies(world, upstream, since):
    post(world)
    record = one_record(since)
    assert (record.outcome, record.status_code, record.streamed) == ("ok", 200, False)
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (10, 3, 13)
    assert record.proxy == world.openai_proxy.slug
    assert record.gateway == world.gateway.slug
    assert record.model == "fake-model"
    assert 0 < record.upstream_latency_ms <= record.latency_ms
    assert record.first_byte_ms is None  # a plain answer's body goes in one piece


def test_record_names_the_key_and_deployment(world, upstream, since):
    from deployments.selectors import current_deployment
    from proxies.models import APIKey

    post(world)
    record = one_record(since)
    assert record.api_key == APIKey.objects.get(proxy=world.openai_proxy).pk
    deployment = current_deployment(proxy=world.openai_proxy, gateway=world.gateway)
    assert record.deployment == deployment.pk


def test_streamed_request_records_usage_from_the_final_chunk(world, upstream, since):
    post(world, stream=True)
    record = one_record(since)
    assert record.streamed is True
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (10, 3, 13)
    assert 0 < record.upstream_latency_ms <= record.first_byte_ms <= record.latency_ms


def test_anthropic_stream_records_usage_from_its_events(world, upstream, since):
    httpx.post(
        f"{world.server.invoke_url(world.anthropic_proxy)}/v1/messages",
        headers={"x-api-key": world.anthropic_key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-fake", "max_tokens": 9, "messages": [], "stream": True},
    )
    record = one_record(since)
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (10, 3, 13)


def test_rejected_request_records_why(world, upstream, since):
    post(world, key="gh-wrong")
    record = one_record(since)
    assert (record.outcome, record.reason, record.status_code) == ("rejected", "invalid_key", 401)


def test_upstream_error_is_recorded_as_such(world, upstream, since):
    post(world, **{"x-fake-status": "500", "x-fake-body": "{}"})
    record = one_record(since)
    assert (record.outcome, record.status_code) == ("upstream_error", 500)


def test_failed_request_records_the_failure(world, upstream, since):
    post(world, **{"x-fake-mode": "garbage"})
    record = one_record(since)
    assert (record.outcome, record.reason, record.status_code) == (
        "failed",
        "invalid_upstream_response",
        502,
    )


def test_cancelled_stream_is_recorded_as_cancelled(world, upstream, since):
    with httpx.stream(
        "POST",
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions",
        headers={
            "Authorization": f"Bearer {world.openai_key}",
            "x-fake-chunks": "50",
            "x-fake-chunk-delay": "0.1",
        },
        json={**CHAT, "stream": True},
    ) as response:
        next(response.iter_raw())
    record = one_record(since)
    assert (record.outcome, record.reason, record.streamed) == (
        "cancelled",
        "client_disconnected",
        True,
    )


def test_no_record_is_lost_when_the_gateway_gets_sigterm_under_load(world, upstream, start_gateway):
    server = start_gateway(world.gateway.slug)
    before = UsageRecord.objects.count()
    url = f"{server.invoke_url(world.openai_proxy)}/chat/completions"
    headers = {"Authorization": f"Bearer {world.openai_key}", "x-fake-delay": "0.5"}

    def send(_):
        try:
            return httpx.post(url, headers=headers, json=CHAT, timeout=30).status_code
        except httpx.HTTPError:
            return None

    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = [pool.submit(send, i) for i in range(40)]
        wait_until(lambda: len(upstream.received()) >= 40, timeout=10)
        server.process.send_signal(signal.SIGTERM)
        statuses = [f.result() for f in futures]
    assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    answered = [s for s in statuses if s is not None]
    assert answered == [200] * 40
    assert UsageRecord.objects.count() - before == len(answered)
