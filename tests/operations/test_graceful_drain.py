"""A gateway process stopped with SIGTERM: it accepts nothing new, finishes the requests and
streams in flight (up to ``--graceful-timeout``), writes their usage records and exits 0."""

import signal
import socket
import sys
import threading

import httpx
import orjson
import pytest

from deployments.services import deploy
from gateways.models import UsageRecord
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy
from tests.operations.conftest import free_port, production_env, wait_until

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def drained(committed, fake_upstream, database_url):
    """A gateway with one proxy on the fake upstream, and a way to start its processes."""
    gateway = GatewayFactory(name="drained")
    proxy = make_openai_proxy(fake_upstream.url, "drained chat")
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    return gateway, proxy, key


@pytest.fixture
def start(drained, launch, database_url):
    """``start(*flags)``: a ``run_gateway`` process for the gateway, ready. Each is stopped
    by the end of the test, so its usage records are all written before the next one."""
    gateway = drained[0]
    started = []

    def start_one(*flags: str):
        port = free_port()
        argv = [sys.executable, "manage.py", "run_gateway", gateway.slug, "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--log-level", "warning", *flags]
        service = launch("gateway", argv, production_env(database_url), port)
        started.append(service)
        service.wait_for("/_gatehouse/readyz")
        return service

    yield start_one
    for service in started:
        service.stop()


class Stream:
    """A streamed chat completion read in a thread: its events as they come."""

    def __init__(self, url: str, key: str, chunks: int, delay: float):
        self.events: list[str] = []
        self.error: Exception | None = None
        self.first = threading.Event()
        self.thread = threading.Thread(target=self.read, args=(url, key, chunks, delay))
        self.thread.start()

    def read(self, url, key, chunks, delay) -> None:
        headers = {
            "Authorization": f"Bearer {key}",
            "x-fake-chunks": str(chunks),
            "x-fake-chunk-delay": str(delay),
        }
        try:
            with httpx.stream(
                "POST", url, headers=headers, json={**CHAT, "stream": True}, timeout=30
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.append(line[6:])
                        self.first.set()
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.first.set()

    def finished(self, timeout: float = 30) -> list[str]:
        self.thread.join(timeout)
        return self.events


def stream_on(service, drained, chunks: int = 20, delay: float = 0.1) -> Stream:
    proxy, key = drained[1], drained[2]
    stream = Stream(f"{service.url}/{proxy.slug}/chat/completions", key, chunks, delay)
    assert stream.first.wait(10), "the stream did not start"
    return stream


def rows_since(last_id: int, **filters):
    return UsageRecord.objects.filter(id__gt=last_id, **filters)


def last_row_id() -> int:
    return UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0


def connection_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_stream_in_flight_at_sigterm_is_finished(start, drained):
    service = start()
    stream = stream_on(service, drained)
    service.signal(signal.SIGTERM)
    events = stream.finished()
    assert stream.error is None
    assert events[-1] == "[DONE]"
    assert len(events) >= 20


def test_a_drained_gateway_exits_0(start, drained):
    service = start()
    stream = stream_on(service, drained, chunks=5)
    service.signal(signal.SIGTERM)
    stream.finished()
    assert service.wait() == 0


def test_the_usage_record_of_a_stream_finished_while_draining_is_written(start, drained):
    last = last_row_id()
    service = start()
    stream = stream_on(service, drained, chunks=10)
    service.signal(signal.SIGTERM)
    stream.finished()
    service.wait()
    (row,) = rows_since(last, proxy=drained[1].slug)
    assert (row.outcome, row.streamed, row.status_code) == ("ok", True, 200)


def test_a_draining_gateway_refuses_new_connections(start, drained):
    service = start()
    stream = stream_on(service, drained, chunks=50)
    service.signal(signal.SIGTERM)
    assert wait_until(lambda: connection_refused(service.port), timeout=2)
    assert stream.thread.is_alive()  # still draining
    stream.finished()


def test_an_idle_keep_alive_connection_is_closed_when_draining_begins(start, drained):
    service = start()
    idle = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    idle.sendall(b"GET /_gatehouse/healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"status":"ok"}'):
        answer += idle.recv(65536)
    stream = stream_on(service, drained)
    service.signal(signal.SIGTERM)
    assert idle.recv(65536) == b""  # closed by the gateway, not left to time out
    assert stream.thread.is_alive()
    idle.close()
    stream.finished()


def tcp_queues(local_port: int, remote_port: int = 0) -> tuple[int, int] | None:
    """The kernel's view of one loopback TCP socket (/proc/net/tcp): ``(state, rx_queue)``,
    where rx_queue is what the process has not taken yet (for a listening socket, connections
    not yet accepted; for a connection, bytes not yet read). None if there is no such socket."""
    local = f"0100007F:{local_port:04X}"
    remote = f"0100007F:{remote_port:04X}" if remote_port else "00000000:0000"
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return int(fields[3], 16), int(fields[4].split(":")[1], 16)
    return None


def taken_by_gateway(port: int, client: socket.socket) -> bool:
    """The gateway accepted ``client``'s connection and read everything it sent so far."""
    listening = tcp_queues(port)
    connection = tcp_queues(port, client.getsockname()[1])
    return listening == (0x0A, 0) and connection is not None and connection[1] == 0


def read_to_close(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def chat_request(drained) -> tuple[bytes, bytes]:
    """A plain chat completion as raw HTTP/1.1: (head, body)."""
    proxy, key = drained[1], drained[2]
    body = orjson.dumps(CHAT)
    head = (
        f"POST /{proxy.slug}/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def test_a_connection_accepted_before_draining_has_its_first_request_served(start, drained):
    """A balancer connects and sends at once; a connection the gateway accepted a moment
    before the drain must not be closed with that request unread (the balancer cannot send
    a POST elsewhere once sent: its caller would get a 502)."""
    service = start()
    conn = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    wait_until(lambda: taken_by_gateway(service.port, conn), timeout=5)
    service.signal(signal.SIGTERM)
    assert wait_until(lambda: connection_refused(service.port), timeout=2)  # draining
    head, body = chat_request(drained)
    conn.sendall(head + body)
    answer = read_to_close(conn)
    conn.close()
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert b"connection: close" in rest.lower()
    assert b'"choices"' in rest
    assert service.wait() == 0


def test_a_request_head_arriving_when_draining_begins_is_served(start, drained):
    service = start()
    conn = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    head, body = chat_request(drained)
    conn.sendall(head[:40])
    wait_until(lambda: taken_by_gateway(service.port, conn), timeout=5)
    service.signal(signal.SIGTERM)
    assert wait_until(lambda: connection_refused(service.port), timeout=2)
    conn.sendall(head[40:] + body)
    answer = read_to_close(conn)
    conn.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert service.wait() == 0


def test_a_connection_that_sends_nothing_does_not_hold_the_drain(start, drained):
    service = start()
    conn = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    wait_until(lambda: taken_by_gateway(service.port, conn), timeout=5)
    service.signal(signal.SIGTERM)
    assert read_to_close(conn) == b""  # closed after a short grace, not the head deadline
    conn.close()
    assert service.wait(timeout=5) == 0


def test_a_stream_longer_than_the_graceful_timeout_is_cut_at_the_deadline(start, drained):
    last = last_row_id()
    service = start("--graceful-timeout", "1")
    stream = stream_on(service, drained, chunks=100, delay=0.1)
    service.signal(signal.SIGTERM)
    assert service.wait(timeout=8) == 0
    stream.finished()
    assert "[DONE]" not in stream.events
    (row,) = rows_since(last, proxy=drained[1].slug)
    assert (row.outcome, row.reason) == ("cancelled", "server_shutdown")


def test_with_two_workers_a_draining_gateway_refuses_new_connections(start, drained):
    service = start("--workers", "2")
    stream = stream_on(service, drained, chunks=50)
    service.signal(signal.SIGTERM)
    assert wait_until(lambda: connection_refused(service.port), timeout=2)
    assert stream.thread.is_alive()  # still draining
    stream.finished()


def test_with_two_workers_a_stream_in_flight_is_finished_and_recorded(start, drained):
    last = last_row_id()
    service = start("--workers", "2")
    stream = stream_on(service, drained)
    service.signal(signal.SIGTERM)
    events = stream.finished()
    assert service.wait() == 0
    assert events[-1] == "[DONE]"
    assert rows_since(last, proxy=drained[1].slug, outcome="ok").count() == 1
