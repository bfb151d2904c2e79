"""The gateway process's front door: bounded request heads, deadlines for slow clients and a
cap on open connections, each answered with a JSON error and a closed connection."""

import socket
import time

import httpx
import pytest

from deployments.services import deploy
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy, wait_until
from tests.gateway.raw_http import parse_response, raw_request

LIMITS = {
    "GATEHOUSE_MAX_HEADER_BYTES": "8192",
    "GATEHOUSE_MAX_HEADERS": "20",
    "GATEHOUSE_HEADER_TIMEOUT": "1",
    "GATEHOUSE_BODY_TIMEOUT": "1",
    "GATEHOUSE_MAX_CONNECTIONS": "12",
}


@pytest.fixture(scope="module")
def door(committed, fake_upstream, start_gateway):
    gateway = GatewayFactory(name="front door")
    proxy = make_openai_proxy(fake_upstream.url, "front door chat")
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    server = start_gateway(gateway.slug, **LIMITS)
    return server, proxy, key


def read_until_closed(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_head_larger_than_the_limit_gets_431_before_it_ends(door):
    server, proxy, _ = door
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"GET /{proxy.slug}/models HTTP/1.1\r\nHost: x\r\nX-Big: ".encode())
        # An unfinished header far larger than the limit, in pieces, never ended.
        for _ in range(4):
            try:
                sock.sendall(b"a" * 8192)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = parse_response(read_until_closed(sock))
    assert answer.status == 431
    assert answer.json()["error"]["code"] == "request_header_too_large"


def test_too_many_headers_get_431(door):
    server, proxy, _ = door
    headers = {f"X-Extra-{n}": "1" for n in range(30)}
    answer = raw_request(server.port, "GET", f"/{proxy.slug}/models", headers)
    assert answer.status == 431
    assert answer.json()["error"]["code"] == "too_many_headers"


def test_a_head_that_stalls_is_closed_with_408(door):
    server, proxy, _ = door
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"GET /{proxy.slug}/models HTTP/1.1\r\nHost: x\r\n".encode())
        started = time.monotonic()
        answer = parse_response(read_until_closed(sock))
        waited = time.monotonic() - started
    assert answer.status == 408
    assert waited < 4


def test_a_connection_that_sends_nothing_is_closed(door):
    server, _, _ = door
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        answer = parse_response(read_until_closed(sock))
    assert answer.status == 408


def test_a_body_that_stalls_is_closed_with_408(door, upstream):
    server, proxy, key = door
    head = (
        f"POST /{proxy.slug}/chat/completions HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head.encode() + b'{"model": "fake-model", ')
        answer = parse_response(read_until_closed(sock))
    assert answer.status == 408
    assert upstream.received() == []


def test_past_the_connection_cap_a_new_connection_gets_503_at_once(door):
    server, _, _ = door
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(12)]
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as extra:
            answer = parse_response(read_until_closed(extra, timeout=2))
        assert answer.status == 503
        assert answer.json()["error"]["code"] == "too_many_connections"
    finally:
        for sock in held:
            sock.close()


def test_health_checks_are_served_again_once_slow_clients_are_dropped(door):
    server, proxy, _ = door
    slow = []
    for _ in range(12):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(f"GET /{proxy.slug}/models HTTP/1.1\r\n".encode())
        slow.append(sock)
    try:
        # Within the head deadline (1 s here) the slow connections are closed and the
        # process accepts its health checks again.
        wait_until(
            lambda: httpx.get(f"{server.url}/_gatehouse/health", timeout=1).status_code == 200,
            timeout=5,
        )
    finally:
        for sock in slow:
            sock.close()


def test_an_ordinary_request_passes_the_front_door(door):
    server, proxy, key = door
    response = httpx.post(
        f"{server.invoke_url(proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert response.status_code == 200
