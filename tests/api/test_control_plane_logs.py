"""The control plane's logs: with the access log on, one JSON line per request in the
gateway's format, never the query string; every other log line JSON in production."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def access_log():
    """What the ``gatehouse.access`` logger writes, formatted by its configured handler."""
    logger = logging.getLogger("gatehouse.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.handlers[0].formatter)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture
def access_logging(settings, access_log):
    settings.GATEHOUSE_ACCESS_LOG = True
    logger = logging.getLogger("gatehouse.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield access_log
    logger.setLevel(level)


def access_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "gatehouse.access"]


@pytest.mark.django_db
def test_each_management_request_has_one_json_line(access_logging, api, admin_user):
    response = api.get("/api/v1/proxies/", {"search": "secret-looking-value"})
    assert response.status_code == 200
    lines = access_lines(access_logging.getvalue())
    assert len(lines) == 1
    line = lines[0]
    assert (line["plane"], line["method"], line["path"], line["status"]) == (
        "control",
        "GET",
        "/api/v1/proxies/",
        200,
    )
    assert line["user"] == admin_user.get_username()
    assert line["level"] == "INFO" and line["message"] == "request"
    assert line["time"] and line["latency_ms"] >= 0
    assert "secret-looking-value" not in json.dumps(line)


@pytest.mark.django_db
def test_refused_requests_are_logged_without_a_user(access_logging, anon_api):
    response = anon_api.get("/api/v1/proxies/")
    assert response.status_code == 401
    (line,) = access_lines(access_logging.getvalue())
    assert (line["status"], line["user"]) == (401, None)


@pytest.mark.django_db
def test_nothing_is_logged_when_the_access_log_is_off(api, access_log):
    assert api.get("/api/v1/proxies/").status_code == 200
    assert access_lines(access_log.getvalue()) == []


def test_production_log_lines_are_json():
    script = "import logging; logging.getLogger('gatehouse.test').warning('disk %s', 'full')"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (line,) = [json.loads(text) for text in result.stderr.splitlines() if text.startswith("{")]
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "gatehouse.test",
        "disk full",
    )
    assert line["time"]
