"""Commands run as real processes, the way scripts and CI pipelines call them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def database_env(tmp_path_factory) -> dict[str, str]:
    """Environment pointing at a fresh, migrated file-based SQLite database."""
    db = tmp_path_factory.mktemp("cli") / "db.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PYTHONWARNINGS": "ignore"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    migrate = manage_py(env, "migrate", "--no-input", "-v", "0")
    assert migrate.returncode == 0, migrate.stderr
    return env


def manage_py(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_domain_error_exits_1_with_one_line_on_stderr(database_env):
    result = manage_py(database_env, "create_proxy", "--name", "Chat", "--provider", "ghost")
    assert (result.returncode, result.stderr, result.stdout) == (
        1,
        "CommandError: No provider 'ghost'.\n",
        "",
    )


def test_usage_error_exits_1_with_one_line_on_stderr(database_env):
    result = manage_py(database_env, "create_provider", "--name", "P")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "required: --template" in result.stderr and "Traceback" not in result.stderr


def test_invalid_json_exits_1_without_a_traceback(database_env):
    result = manage_py(
        database_env, "attach_guardrail", "x", "--policy", "word-count-guardrail", "--params", "{"
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "--params is not valid JSON" in result.stderr


def test_stdout_holds_only_the_primary_value(database_env):
    result = manage_py(
        database_env,
        "create_provider",
        "--name",
        "Local vLLM",
        "--template",
        "openai-compatible",
        "--upstream-url",
        "http://127.0.0.1:9000/v1",
    )
    assert (result.returncode, result.stdout) == (0, "local-vllm\n")
