"""A rolling restart under load: nginx (the guide's configuration) in front of two gateway
processes sharing PostgreSQL and Redis, each stopped with SIGTERM and started again in turn
while clients keep calling through nginx. No client sees a failure, and every call leaves
exactly one usage record.

Runs on PostgreSQL + Redis with nginx installed (CI); skipped otherwise."""

import ssl
import threading
import time
from dataclasses import dataclass, field

import httpx
import orjson
import pytest

from deployments.services import deploy
from gateways.models import UsageRecord
from gateways.selectors import gateway_get
from tests.factories import api_key
from tests.gateway.conftest import make_openai_proxy
from tests.operations import guide
from tests.operations.conftest import free_port, production_env, wait_until

pytestmark = pytest.mark.postgres

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM_CHUNKS = 10
LOAD_AFTER = 40  # calls once both gateways are back


@dataclass
class Tally:
    """What the clients saw."""

    sent: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, failure: str | None) -> None:
        with self.lock:
            self.sent += 1
            if failure:
                self.failures.append(failure)


class Load:
    """Clients calling through nginx until stopped: plain calls and streamed ones, each client
    on its own keep-alive connection to nginx, never retrying."""

    def __init__(self, url: str, key: str, ca, plain: int = 2, streamed: int = 2):
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.verify = ssl.create_default_context(cafile=str(ca))
        self.tally = Tally()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.client, args=(streamed_,))
            for streamed_ in [False] * plain + [True] * streamed
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)
        return self.tally

    def client(self, streamed: bool) -> None:
        with httpx.Client(verify=self.verify, timeout=30) as http:
            while not self.stopping.is_set():
                self.tally.count(self.stream(http) if streamed else self.plain(http))

    def plain(self, http: httpx.Client) -> str | None:
        headers = {**self.headers, "x-fake-delay": "0.05"}
        try:
            response = http.post(self.url, headers=headers, json=CHAT)
        except httpx.HTTPError as exc:
            return f"plain: {type(exc).__name__}: {exc}"
        if response.status_code != 200 or "choices" not in response.json():
            return f"plain: {response.status_code} {response.text[:200]}"
        return None

    def stream(self, http: httpx.Client) -> str | None:
        headers = {
            **self.headers,
            "x-fake-chunks": str(STREAM_CHUNKS),
            "x-fake-chunk-delay": "0.05",
        }
        events = []
        try:
            with http.stream(
                "POST", self.url, headers=headers, json={**CHAT, "stream": True}
            ) as response:
                if response.status_code != 200:
                    return f"stream: {response.status_code} {response.read()[:200]!r}"
                events = [line[6:] for line in response.iter_lines() if line.startswith("data:")]
        except httpx.HTTPError as exc:
            return f"stream: {type(exc).__name__} after {len(events)} events: {exc}"
        chunks = [orjson.loads(event) for event in events[:-1]]
        content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
        if events[-1:] != ["[DONE]"] or len(content) != STREAM_CHUNKS:
            return f"stream: cut after {len(events)} events {len(content)}"
        return None


@pytest.fixture(scope="module")
def fleet(production_stack, committed, fake_upstream, database_url, launch):
    """A gateway registered as the guide says, a proxy deployed on it, and a way to start and
    stop its processes with the guide's commands."""
    env = production_env(database_url, REDIS_URL=production_stack)
    registered = guide.run(
        "register-gateway",
        {**env, "GATEWAY_NAME": "Edge rolling", "GATEWAY_URL": "https://gw.example.com"},
    )
    slug, token = registered.stdout.split()
    proxy = make_openai_proxy(fake_upstream.url, "rolling chat")
    deploy(proxy=proxy, gateway=gateway_get(slug))
    _, key = api_key(proxy)
    gateway_env = {**env, "GATEWAY": slug, "HOST": "127.0.0.1", "GATEHOUSE_GATEWAY_TOKEN": token}

    def rotate_token() -> None:
        """A second registration token, which the processes started from now on present."""
        issued = guide.run("create-gateway-token", {**env, "GATEWAY": slug})
        gateway_env["GATEHOUSE_GATEWAY_TOKEN"] = issued.stdout.strip()

    def start(port: int):
        port_env = {**gateway_env, "PORT": str(port)}
        service = launch("gateway", guide.server_argv("run-gateway"), port_env, port)
        guide.run("wait-ready", port_env, timeout=60)
        return service

    def stop(service) -> int:
        guide.run("stop-gateway", {**env, "GATEWAY_PID": str(service.process.pid)})
        return service.wait(timeout=60)

    return proxy, key, start, stop, rotate_token


def test_a_rolling_restart_under_load_fails_no_call_and_records_each_once(fleet, start_nginx):
    proxy, key, start, stop, rotate_token = fleet
    ports = [free_port(), free_port()]
    gateways = [start(port) for port in ports]
    nginx = start_nginx(**{f"gateway_{n}": f"127.0.0.1:{p}" for n, p in enumerate(ports, 1)})
    before = UsageRecord.objects.filter(proxy=proxy.slug).count()
    load = Load(f"{nginx.url}/{proxy.slug}/chat/completions", key, nginx.ca)
    began = time.monotonic()
    load.start()
    try:
        wait_until(lambda: load.tally.sent >= 20, timeout=30)
        rotate_token()  # the restarted processes present a new registration token
        exits = []
        for index, port in enumerate(ports):
            exits.append(stop(gateways[index]))
            gateways[index] = start(port)
        restarted = load.tally.sent
        # The load goes on through both new processes for a while.
        wait_until(lambda: load.tally.sent >= restarted + LOAD_AFTER, timeout=30)
    finally:
        tally = load.stop()
    took = time.monotonic() - began
    exits += [stop(gateway) for gateway in gateways]  # which writes their last records
    written = UsageRecord.objects.filter(proxy=proxy.slug).count() - before
    print(
        f"\nrolling restart: {tally.sent} calls in {took:.1f} s, {len(tally.failures)} failed, "
        f"{written} usage records; gateways exited {exits}"
    )
    assert tally.failures == [], f"{tally.failures[:10]}\n{nginx.errors()}"
    assert exits == [0, 0, 0, 0]
    assert written == tally.sent
