"""Fixtures for running Gatehouse as production does: processes started from a command line
(the production guide's own, see ``guide``), stopped with SIGTERM, and the data they serve.

The gateway fixtures (fake upstream, committed data, the test database as a URL) come from
``tests/gateway/conftest.py``.
"""

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

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
        """The exit code once the process ended (killed after ``timeout``)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            message = f"{self.name} did not exit within {timeout}s:\n{self.log()}"
            raise AssertionError(message) from None

    def stop(self, timeout: float = DEADLINE) -> int:
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

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
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        service = Service(name, port, process, log_path, env)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.running():
            service.signal(signal.SIGKILL)
            service.process.wait()
        service.log_path.unlink(missing_ok=True)
