"""Fixtures for running Gatehouse as production does: processes started from a command line
(the production guide's own, see ``guide``), stopped with SIGTERM, and the data they serve.

The gateway fixtures (fake upstream, committed data, the test database as a URL) come from
``tests/gateway/conftest.py``.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.gateway.conftest import (  # noqa: F401  (fixtures these tests use)
    DEADLINE,
    ROOT,
    committed,
    database_url,
    django_db_setup,
    fake_upstream,
    free_port,
    upstream,
    wait_until,
)
from tests.operations import guide
from tests.vendors.conftest import tls_certificate  # noqa: F401  (a fixture)

VENV_BIN = Path(sys.executable).parent


@dataclass
class Service:
    """A long-running process a test started, its output in a log file."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.running():
            self.process.send_signal(sig)

    def wait(self, timeout: float = DEADLINE) -> int:
        """The exit code once the process ended (killed, with every process it started,
        after ``timeout``)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            message = f"{self.name} did not exit within {timeout}s:\n{self.log()}"
            raise AssertionError(message) from None

    def stop(self, timeout: float = DEADLINE) -> int:
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """Kill the process and whatever it started (its own process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def wait_for(self, path: str, timeout: float = DEADLINE) -> httpx.Response:
        """Poll ``path`` until it answers 200 (readiness); fail if the process exits."""

        def answered():
            if not self.running():
                raise AssertionError(f"{self.name} exited:\n{self.log()}")
            try:
                response = httpx.get(f"{self.url}{path}", timeout=1)
            except httpx.HTTPError:
                return None
            return response if response.status_code == 200 else None

        return wait_until(answered, timeout=timeout, interval=0.05)


def production_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a process started as production runs it: this suite's settings
    (DEBUG off, its keys), the test database, the virtualenv's commands first on PATH."""
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "GATEHOUSE_HEARTBEAT_INTERVAL": "0.2",
        "GATEHOUSE_HEARTBEAT_TTL": "2",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # production reads config.settings
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def launch():
    """``launch(name, argv, env, port)``: start a process from the repository's root; every
    one still running is stopped when the module ends."""
    started: list[Service] = []

    def start(name: str, argv: list[str], env: dict[str, str], port: int = 0) -> Service:
        log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        with open(log_path, "wb") as log:
            # A session of its own: a test's signals reach only what it means them for, and
            # the workers a process started go with it if it has to be killed.
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, port, process, log_path, env)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.running():
            service.stop()
        service.kill()  # anything of its group still there
        service.log_path.unlink(missing_ok=True)


# --- PostgreSQL, Redis and nginx, as production runs ---------------------------------------


def production_stack_missing(database: str) -> str | None:
    """Why the production stack is not here (PostgreSQL, Redis and nginx), or None."""
    if not database.startswith("postgres"):
        return "runs on PostgreSQL + Redis (set DATABASE_URL and REDIS_URL, as CI does)"
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        return "runs on PostgreSQL + Redis (set REDIS_URL, as CI does)"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return f"Redis does not answer at {redis_url}"
    if nginx_binary() is None:
        return "needs nginx (Debian: apt-get install nginx-light; .ci/run installs it)"
    return None


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


@pytest.fixture(scope="module")
def production_stack(database_url) -> str:  # noqa: F811  (the fixture)
    """Skip unless PostgreSQL, Redis and nginx are here; the Redis URL."""
    missing = production_stack_missing(database_url)
    if missing:
        pytest.skip(missing)
    return os.environ["REDIS_URL"]


@dataclass
class Nginx:
    port: int
    service: Service
    ca: Path
    prefix: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def errors(self) -> str:
        """nginx's error log (warnings and worse), without the refused connections it passed
        on to the next gateway, which are expected while one restarts."""
        lines = (self.prefix / "error.log").read_text(errors="replace").splitlines()
        unexpected = [line for line in lines if "connect() failed (111" not in line]
        return "\n".join(unexpected)[-6000:]


# The process-wide part of nginx's configuration, which the guide leaves to the distribution's
# nginx.conf: here everything it writes goes to the test's own directory.
NGINX_MAIN = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/gatehouse.conf;
}}
"""


@pytest.fixture(scope="module")
def start_nginx(launch, tls_certificate, tmp_path_factory):  # noqa: F811  (the fixture)
    """``start_nginx(gateway_1=..., gateway_2=...)``: nginx on a free port with the guide's
    configuration for these gateway addresses, TLS with the test certificate."""

    def start(**gateways: str) -> Nginx:
        prefix = tmp_path_factory.mktemp("nginx")
        prefix.chmod(0o755)  # its workers run as an unprivileged user when started as root
        port = free_port()
        config = guide.nginx_config(
            listen=f"127.0.0.1:{port}",
            server_name="127.0.0.1",
            certificate=str(tls_certificate.cert),
            certificate_key=str(tls_certificate.key),
            **gateways,
        )
        (prefix / "gatehouse.conf").write_text(config)
        (prefix / "nginx.conf").write_text(NGINX_MAIN.format(prefix=prefix))
        argv = [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
        service = launch("nginx", argv, dict(os.environ), port)
        wait_until(lambda: port_open(port) or not service.running(), timeout=DEADLINE)
        assert service.running(), service.log() + (prefix / "error.log").read_text()
        return Nginx(port, service, tls_certificate.cert, prefix)

    return start


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
