"""Server-sent events go through chunk by chunk, and a client that leaves cancels upstream."""

import time

import httpx

from tests.gateway.conftest import wait_until


def stream_request(world, **headers):
    return httpx.stream(
        "POST",
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {world.openai_key}", **headers},
        json={
            "model": "fake-model",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        },
        timeout=30,
    )


def test_first_chunk_arrives_before_the_upstream_finishes(world, upstream):
    # 5 chunks 0.4 s apart: the whole stream takes ~2 s upstream.
    started = time.monotonic()
    with stream_request(world, **{"x-fake-chunks": "5", "x-fake-chunk-delay": "0.4"}) as response:
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - started
        upstream_done_then = upstream.received()[0]["completed"]
        rest = b"".join(chunks)
    assert b"chunk0" in first
    assert not upstream_done_then
    assert first_at < 1.0
    assert b"[DONE]" in rest


def test_client_disconnect_cancels_the_upstream_stream(world, upstream):
    with stream_request(world, **{"x-fake-chunks": "50", "x-fake-chunk-delay": "0.1"}) as response:
        next(response.iter_raw())
    wait_until(lambda: upstream.received() and upstream.received()[0]["cut"], timeout=5)
    assert upstream.received()[0]["completed"] is False


def test_stream_usage_is_requested_from_the_upstream(world, upstream):
    with stream_request(world) as response:
        body = b"".join(response.iter_raw())
    sent = upstream.received()[0]["body"]
    assert '"include_usage":true' in sent
    assert b'"usage"' in body


def test_dropped_upstream_stream_ends_with_an_error_event(world, upstream):
    with stream_request(world, **{"x-fake-mode": "drop"}) as response:
        body = b"".join(response.iter_raw())
    assert b"chunk1" in body
    assert body.rstrip().split(b"\n")[-1].startswith(b"data: {")
    assert b"event: error" in body
