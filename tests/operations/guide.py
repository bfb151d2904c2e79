"""The production guide (docs/production.md) as the source of the commands these tests run, so
that the guide says nothing no test ran and cannot drift from what the tests do.

A command in the guide is a fenced ``sh`` block right after a ``<!-- command: NAME -->`` line;
its site-specific values are shell variables (``$GATEWAY``, ``$PORT``), which a test sets in
the environment it runs the block in. A ``cron`` block so named is a crontab: a test runs the
command of its schedule line. The nginx configuration it shows is
``docs/examples/nginx.conf``, word for word; a test fills in its ``<...>`` placeholders.
"""

import re
import subprocess
from pathlib import Path

from tests.gateway.conftest import ROOT

GUIDE = ROOT / "docs" / "production.md"
NGINX_TEMPLATE = ROOT / "docs" / "examples" / "nginx.conf"
COMMAND = re.compile(
    r"<!-- command: (?P<name>[a-z0-9-]+) -->\n```(?P<kind>sh|cron)\n(?P<body>.*?)```", re.S
)
SHELL_BLOCK = re.compile(r"^```(?:sh|cron)\n", re.M)


def text() -> str:
    return GUIDE.read_text()


def commands() -> dict[str, str]:
    """The guide's commands by name (of a crontab, the command its schedule line runs)."""
    found = {}
    for match in COMMAND.finditer(text()):
        body = match["body"]
        if match["kind"] == "cron":
            (line,) = [
                line
                for line in body.splitlines()
                if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
            ]
            body = line.split(None, 5)[5]
        found[match["name"]] = body
    return found


def command(name: str) -> str:
    found = commands()
    assert name in found, f"docs/production.md has no command named {name!r}"
    return found[name]


def run(name: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the guide's command ``name`` to its end in bash (stopping at the first failing
    line), from the repository's root; fail with its output if it fails."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command(name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{name} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def server_argv(name: str) -> list[str]:
    """The argv that runs the guide's long-running command ``name``: bash replacing itself with
    it (``exec``), so that the process a test signals is the server's."""
    body = command(name).strip()
    assert "\n" not in body.replace("\\\n", ""), f"{name} must be one command"
    return ["bash", "-c", f"exec {body}"]


def nginx_config(**values: str) -> str:
    """The guide's nginx configuration with each ``<name>`` placeholder filled in (``name``
    spelt with underscores here: ``gateway_1`` fills ``<gateway-1>``)."""
    config = NGINX_TEMPLATE.read_text()
    for key, value in values.items():
        placeholder = f"<{key.replace('_', '-')}>"
        assert placeholder in config, f"the nginx template has no {placeholder}"
        config = config.replace(placeholder, value)
    left = re.findall(r"<[a-z0-9-]+>", config)
    assert not left, f"placeholders left unfilled: {left}"
    return config


def tested_command_names() -> set[str]:
    """The names of the guide's commands that the tests run (``guide.run("name", ...)`` or
    ``guide.server_argv("name")`` in a test module here)."""
    used = set()
    pattern = re.compile(r'guide\.(?:run|server_argv|command)\(\s*"([a-z0-9-]+)"')
    for module in Path(__file__).parent.glob("test_*.py"):
        used.update(pattern.findall(module.read_text()))
    return used


def untagged_shell_blocks() -> int:
    """How many ``sh`` blocks of the guide are not named commands."""
    return len(SHELL_BLOCK.findall(text())) - len(commands())
