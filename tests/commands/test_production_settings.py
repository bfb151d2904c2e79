"""Production (DEBUG off) refuses insecure configuration, and the settings the README's
Production section lists pass Django's deployment checks. Each test starts a real process
with ``config.settings`` and an environment built from scratch."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_SECRET_KEY = "gatehouse-insecure-development-key-change-me"
STRONG_SECRET_KEY = secrets.token_urlsafe(50)
FERNET_KEY = Fernet.generate_key().decode()


def manage_py(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``manage.py`` with only ``env`` (plus what Python itself needs) in its environment."""
    base = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def refusal(env: dict[str, str]) -> str:
    """The message a production process refuses to start with (it must refuse)."""
    result = manage_py(env, "check")
    assert result.returncode != 0, result.stdout
    return result.stderr


def readme_production_environment() -> dict[str, str]:
    """The variables of the README's Production block; ``<...>`` placeholders become fresh
    secrets (a Fernet key for the encryption key)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    env = {}
    for line in block.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("#", 1)[0].strip().split("=", 1)
            secret = FERNET_KEY if name == "GATEHOUSE_ENCRYPTION_KEY" else STRONG_SECRET_KEY
            env[name] = re.sub(r"<[^>]*>", secret, value)
    return env


def test_an_unset_secret_key_is_refused():
    message = refusal({"GATEHOUSE_ENCRYPTION_KEY": FERNET_KEY})
    assert "- SECRET_KEY is not set." in message


def test_the_development_secret_key_is_refused():
    message = refusal(
        {"SECRET_KEY": DEVELOPMENT_SECRET_KEY, "GATEHOUSE_ENCRYPTION_KEY": FERNET_KEY}
    )
    assert "- SECRET_KEY is the development default" in message


def test_a_short_secret_key_is_refused():
    message = refusal(
        {"SECRET_KEY": "short-but-varied-key", "GATEHOUSE_ENCRYPTION_KEY": FERNET_KEY}
    )
    assert "- SECRET_KEY is weak" in message


def test_a_long_secret_key_of_few_characters_is_refused():
    message = refusal({"SECRET_KEY": "abab" * 20, "GATEHOUSE_ENCRYPTION_KEY": FERNET_KEY})
    assert "- SECRET_KEY is weak" in message


def test_the_refusal_says_how_to_generate_a_secret_key():
    message = refusal({"GATEHOUSE_ENCRYPTION_KEY": FERNET_KEY})
    assert "secrets.token_urlsafe(50)" in message


def test_a_missing_encryption_key_is_refused_with_how_to_generate_one():
    message = refusal({"SECRET_KEY": STRONG_SECRET_KEY})
    assert "- GATEHOUSE_ENCRYPTION_KEY is not set" in message
    assert "Fernet.generate_key()" in message


def test_an_encryption_key_that_is_not_a_fernet_key_is_refused():
    message = refusal({"SECRET_KEY": STRONG_SECRET_KEY, "GATEHOUSE_ENCRYPTION_KEY": "not-a-key"})
    assert "- GATEHOUSE_ENCRYPTION_KEY: key 1 is not a Fernet key" in message


def test_an_allowed_network_that_is_not_a_network_is_refused():
    message = refusal({"DEBUG": "1", "GATEHOUSE_ALLOWED_PRIVATE_NETWORKS": "10.0.0.0/8,intranet"})
    assert "- GATEHOUSE_ALLOWED_PRIVATE_NETWORKS: 'intranet' is not an IP address" in message


def test_every_problem_gets_its_own_line():
    message = refusal({"SECRET_KEY": DEVELOPMENT_SECRET_KEY})
    lines = [line for line in message.splitlines() if line.startswith("- ")]
    assert [line.split(" ")[1] for line in lines] == ["SECRET_KEY", "GATEHOUSE_ENCRYPTION_KEY"]


def test_a_gateway_process_refuses_too():
    result = manage_py({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "run_gateway", "default")
    assert result.returncode != 0 and "- SECRET_KEY is the development default" in result.stderr


def test_the_control_plane_application_refuses_too():
    base = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    result = subprocess.run(
        [sys.executable, "-c", "import config.asgi"],
        cwd=ROOT,
        env={**base, "SECRET_KEY": DEVELOPMENT_SECRET_KEY},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "- SECRET_KEY is the development default" in result.stderr


def test_debug_runs_on_the_development_defaults():
    result = manage_py({"DEBUG": "1"}, "check")
    assert result.returncode == 0, result.stderr


def test_production_settings_from_the_readme_pass_the_deployment_checks():
    result = manage_py(
        readme_production_environment(), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stderr + result.stdout
