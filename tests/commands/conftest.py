"""Run management commands in-process and capture what they print."""

import io
from collections.abc import Callable

import pytest
from django.core.management import call_command


@pytest.fixture
def manage(db) -> Callable[..., tuple[str, str]]:
    """``manage("create_proxy", "--name", "x")`` returns ``(stdout, stderr)``."""

    def run(name: str, *args: str) -> tuple[str, str]:
        stdout, stderr = io.StringIO(), io.StringIO()
        call_command(name, *args, stdout=stdout, stderr=stderr)
        return stdout.getvalue(), stderr.getvalue()

    return run
