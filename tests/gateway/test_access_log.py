"""The gateway's access log: one JSON line per request, never a key, a query string or a
body."""

import json

import httpx
import pytest

from deployments.services import deploy
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy, wait_until


@pytest.fixture(scope="module")
def logged(committed, fake_upstream, start_gateway):
    gateway = GatewayFactory(name="logged")
    proxy = make_openai_proxy(
        fake_upstream.url, "logged chat", inbound_key_in="query", inbound_key_name="key"
    )
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    server = start_gateway(gateway.slug, GATEHOUSE_ACCESS_LOG="1")
    return server, proxy, key


def access_lines(server) -> list[dict]:
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{") and '"outcome"' in line:
            lines.append(json.loads(line))
    return lines


def test_each_request_has_one_json_line(logged):
    server, proxy, key = logged
    before = len(access_lines(server))
    response = httpx.get(f"{server.invoke_url(proxy)}/models", params={"key": key}, timeout=10)
    assert response.status_code == 200
    line = wait_until(lambda: access_lines(server)[before:], timeout=5)[0]
    assert (line["proxy"], line["method"], line["path"], line["status"]) == (
        proxy.slug,
        "GET",
        "/models",
        200,
    )
    assert line["key_id"]
    assert (line["plane"], line["logger"], line["level"]) == ("gateway", "gatehouse.access", "INFO")
    assert line["time"] and line["latency_ms"] >= 0
    assert line["trace_id"] is None  # tracing is off


def test_a_key_in_the_query_string_never_reaches_the_log(logged):
    server, proxy, key = logged
    httpx.get(
        f"{server.invoke_url(proxy)}/models", params={"key": key, "tag": "visible"}, timeout=10
    )
    wait_until(lambda: access_lines(server), timeout=5)
    assert key not in server.log()
    assert "tag=visible" not in server.log()
