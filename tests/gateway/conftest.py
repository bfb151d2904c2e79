"""Fixtures for the data plane: a fake upstream in a thread, gateway processes started with
``manage.py run_gateway`` against the (file) test database, and committed test data.

Gateway processes only see committed rows, so these tests create their data with
``django_db_blocker.unblock()`` (autocommit) instead of the per-test transaction, and clean up
with a flush when the module ends.
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.core.management import call_command

from gateways.fake_upstream import FakeUpstream, serve_in_thread
from tests.factories import GatewayFactory, ProviderFactory, ProxyFactory, api_key

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class Upstream:
    url: str
    app: FakeUpstream

    def received(self) -> list[dict]:
        return httpx.get(f"{self.url}/__requests__").json()

    def clear(self) -> None:
        httpx.delete(f"{self.url}/__requests__")
        httpx.delete(f"{self.url}/__faults__")

    def fault(self, prefix: str, **fault) -> None:
        """Make requests under ``prefix`` fail (see the fake upstream's ``/__faults__``)."""
        httpx.post(f"{self.url}/__faults__", json={"prefix": prefix, **fault})


@pytest.fixture(scope="session")
def fake_upstream():
    app = FakeUpstream()
    port = free_port()
    server, thread = serve_in_thread("127.0.0.1", port, app)
    yield Upstream(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def upstream(fake_upstream) -> Upstream:
    fake_upstream.clear()
    return fake_upstream


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django creates the test database only when a collected test asks for ``db``;
    these tests use committed data instead, so make sure it exists when they run alone."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    # Django removes the test database file at the end, not SQLite's -wal / -shm files.
    created = None
    if not is_test_database(connection):
        with django_db_blocker.unblock():
            created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        atexit.register(_remove_files, [f"{name}-wal", f"{name}-shm"])
    yield
    if created is not None:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)


def is_test_database(connection) -> bool:
    """Whether ``connection`` points at the test database (never flush anything else)."""
    name = str(connection.settings_dict["NAME"])
    test_name = (connection.settings_dict.get("TEST") or {}).get("NAME")
    return name == test_name if test_name else name.startswith("test_")


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def database_url(django_db_setup, django_db_blocker) -> str:
    """The test database as a DATABASE_URL for gateway subprocesses."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings.get("USER") or "")
    password = quote(settings.get("PASSWORD") or "")
    host = settings.get("HOST") or "localhost"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}:{password}@{host}:{port}/{settings['NAME']}"


@dataclass
class GatewayServer:
    slug: str
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def invoke_url(self, proxy) -> str:
        context = "" if proxy.context == "/" else proxy.context
        return f"{self.url}/{proxy.slug}{context}"

    def health(self) -> dict | None:
        try:
            response = httpx.get(f"{self.url}/_gatehouse/health", timeout=1)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited:\n{self.log()}")
            if self.health():
                return
            time.sleep(0.05)
        raise AssertionError(f"gateway not ready within {DEADLINE}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def start_gateway(database_url):
    """Start ``manage.py run_gateway SLUG`` processes; all are stopped when the module ends."""
    started: list[GatewayServer] = []

    def start(slug: str, *, workers: int = 1, **env_overrides: str) -> GatewayServer:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "GATEHOUSE_HEARTBEAT_INTERVAL": "0.2",
            "GATEHOUSE_HEARTBEAT_TTL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        # No Redis unless a test asks for it (rate-limit tests pass REDIS_URL).
        env.pop("REDIS_URL", None)
        env.update(env_overrides)
        log_path = Path(tempfile.mkstemp(prefix=f"gateway-{slug}-", suffix=".log")[1])
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "run_gateway",
                    slug,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(workers),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = GatewayServer(slug, port, process, log_path, env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
        server.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def committed(django_db_setup, django_db_blocker):
    """Run the module with database access in autocommit; flush the data at the end."""
    from django.db import connection

    # Never flush anything but the test database.
    assert is_test_database(connection)
    with django_db_blocker.unblock():
        yield
        call_command("flush", interactive=False, verbosity=0)


@dataclass
class World:
    """A gateway serving OpenAI-style and Anthropic-style proxies on the fake upstream."""

    gateway: object
    server: GatewayServer
    openai_proxy: object
    openai_key: str
    anthropic_proxy: object
    anthropic_key: str
    provider: object
    extras: dict = field(default_factory=dict)


def make_openai_proxy(upstream_url: str, name: str, credential="sk-upstream-secret", **proxy):
    provider = ProviderFactory(
        name=f"{name} provider",
        template="openai-compatible",
        upstream_url=f"{upstream_url}/v1",
        credential=credential,
    )
    return ProxyFactory(name=name, provider=provider, **proxy)


def make_anthropic_proxy(upstream_url: str, name: str):
    from proxies.models import ProviderTemplate

    # The built-in Anthropic template's URL is fixed; a copy points at the fake upstream.
    builtin = ProviderTemplate.objects.get(slug="anthropic")
    template, _ = ProviderTemplate.objects.get_or_create(
        slug="anthropic-local",
        defaults={
            "display_name": "Anthropic (local)",
            "adapter": builtin.adapter,
            "upstream_url": upstream_url,
            "upstream_auth_header": builtin.upstream_auth_header,
            "inbound_key_header": builtin.inbound_key_header,
            "inbound_key_prefix": builtin.inbound_key_prefix,
            "model_location": builtin.model_location,
            "usage_paths": builtin.usage_paths,
            "resources": builtin.resources,
        },
    )
    provider = ProviderFactory(
        name=f"{name} provider",
        template=template,
        upstream_url=upstream_url,
        credential="sk-ant-upstream",
    )
    return ProxyFactory(name=name, provider=provider)


@pytest.fixture(scope="module")
def world(committed, fake_upstream, start_gateway) -> World:
    from deployments.services import deploy

    gateway = GatewayFactory(name="edge")
    openai_proxy = make_openai_proxy(fake_upstream.url, "chat")
    anthropic_proxy = make_anthropic_proxy(fake_upstream.url, "claude")
    for proxy in (openai_proxy, anthropic_proxy):
        deploy(proxy=proxy, gateway=gateway)
    _, openai_key = api_key(openai_proxy)
    _, anthropic_key = api_key(anthropic_proxy)
    server = start_gateway(gateway.slug)
    return World(
        gateway=gateway,
        server=server,
        openai_proxy=openai_proxy,
        openai_key=openai_key,
        anthropic_proxy=anthropic_proxy,
        anthropic_key=anthropic_key,
        provider=openai_proxy.provider,
    )


def wait_for_revision(server: GatewayServer, timeout: float = 3.0) -> None:
    """Wait until the gateway serves the current configuration revision."""
    from core.revision import current_config_revision

    target = current_config_revision()
    wait_until(lambda: (server.health() or {}).get("revision") == target, timeout)
