#!/usr/bin/env python3
"""Set up and run Gatehouse with nothing but Python.

    python3 dev.py up      # virtualenv, install, migrate, demo data, serve on :8000
    python3 dev.py test    # virtualenv, install test tools, lint, run the whole suite

Everything lands in ./.venv; re-running skips installs when pyproject.toml is unchanged.
``test`` also keeps ./.venv-clients: vendor SDKs whose dependencies clash with the app's
(mistralai's ``jsonpath`` shadows python-jsonpath), which tests/vendors runs as subprocesses.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
CLIENTS_VENV = ROOT / ".venv-clients"
CLIENTS_PY = CLIENTS_VENV / BIN.name / "python"
CLIENTS_REQUIREMENTS = ROOT / "tests" / "vendors" / "clients" / "requirements.txt"


def ensure_env(extras: str = "") -> None:
    """Create the virtualenv and install the project (with ``extras``) when needed."""
    if not PY.exists():
        print("Creating virtualenv in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{('-' + extras) if extras else ''}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("Installing dependencies ...", flush=True)
    run([PY, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    target = f".[{extras}]" if extras else "."
    run([PY, "-m", "pip", "install", "-q", "-e", target])
    stamp.write_text(digest)


def ensure_clients() -> None:
    """Create the client virtualenv and install the clashing SDKs when their list changed."""
    if not CLIENTS_PY.exists():
        print("Creating virtualenv in .venv-clients ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(CLIENTS_VENV)
    stamp = CLIENTS_VENV / ".installed"
    digest = hashlib.sha256(CLIENTS_REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("Installing client SDKs ...", flush=True)
    run([CLIENTS_PY, "-m", "pip", "install", "-q", "--upgrade", "pip"])
    run([CLIENTS_PY, "-m", "pip", "install", "-q", "-r", CLIENTS_REQUIREMENTS])
    stamp.write_text(digest)


def run(cmd: list, **kwargs) -> None:
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, **kwargs)
    if result.returncode != 0:
        sys.exit(result.returncode)


def manage(*args: str) -> None:
    run([PY, "manage.py", *args])


def up(args: list[str]) -> None:
    ensure_env()
    os.environ.setdefault("DEBUG", "1")
    # The demo's fake upstream listens on this machine, which upstreams may not by default.
    os.environ.setdefault("GATEHOUSE_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8,::1/128")
    manage("migrate", "--no-input", "-v", "0")
    manage("load_demo")
    port = os.environ.get("PORT", "8000")
    print(f"\nGatehouse is on http://127.0.0.1:{port}/admin/ (Ctrl+C stops it)\n", flush=True)
    manage("run_all", "--port", port, *args)


def test(args: list[str]) -> None:
    ensure_env("test")
    ensure_clients()
    run([BIN / "ruff", "check", "."])
    run([PY, "-m", "pytest", *args])


if __name__ == "__main__":
    commands = {"up": up, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]](sys.argv[2:])
