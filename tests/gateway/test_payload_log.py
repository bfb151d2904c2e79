"""The payload log: with ``payload-log`` attached, what the caller sent and got back is kept,
PII redacted and cut to size, in the usage record's details or as a JSON line; without it,
nothing is."""

import json

import httpx
import openai
import pytest

from deployments.services import deploy
from gateways.models import UsageRecord
from guardrails.services import attachment_create
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy, wait_until

PROMPT = "Write to jane.doe@example.com or call 415-555-0134 about the order."
ECHO = {"x-fake-mode": "echo"}


@pytest.fixture(scope="module")
def logged(committed, fake_upstream, start_gateway):
    gateway = GatewayFactory(name="payloads")
    proxies = {
        "details": make_openai_proxy(fake_upstream.url, "payload details"),
        "short": make_openai_proxy(fake_upstream.url, "payload short"),
        "log": make_openai_proxy(fake_upstream.url, "payload log"),
        "off": make_openai_proxy(fake_upstream.url, "payload off"),
    }
    attachment_create(policy="payload-log", proxy=proxies["details"], params={})
    attachment_create(
        policy="payload-log", proxy=proxies["short"], params={"maxBytes": 256, "request": False}
    )
    attachment_create(policy="payload-log", proxy=proxies["log"], params={"destination": "log"})
    keys = {}
    for name, proxy in proxies.items():
        deploy(proxy=proxy, gateway=gateway)
        keys[name] = api_key(proxy)[1]
    server = start_gateway(gateway.slug)
    return server, proxies, keys


def client(logged, name: str) -> openai.OpenAI:
    server, proxies, keys = logged
    return openai.OpenAI(
        base_url=server.invoke_url(proxies[name]), api_key=keys[name], default_headers=ECHO
    )


def record_of(proxy) -> UsageRecord:
    rows = UsageRecord.objects.filter(proxy=proxy.slug).order_by("-created_at")
    return wait_until(lambda: rows.first(), timeout=5)


def ask(logged, name: str, **extra):
    return client(logged, name).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": PROMPT}], **extra
    )


def test_the_bodies_are_kept_in_the_details_with_pii_redacted(logged):
    _, proxies, _ = logged
    answer = ask(logged, "details")
    assert "jane.doe@example.com" in answer.choices[0].message.content  # the caller's answer
    payload = record_of(proxies["details"]).details["payload"]
    request, response = payload["request"], payload["response"]
    sent = json.loads(request["body"])
    assert sent["messages"][0]["content"] == "Write to [EMAIL] or call [PHONE] about the order."
    assert (request["redacted"], request["truncated"]) == (2, False)
    assert request["bytes"] > len(request["body"])  # the originals were longer
    got = json.loads(response["body"])
    assert (
        got["choices"][0]["message"]["content"]
        == "Write to [EMAIL] or call [PHONE] about the order."
    )
    assert "jane.doe" not in json.dumps(payload) and "555-0134" not in json.dumps(payload)


def test_a_stream_is_kept_as_the_events_the_caller_got_cut_to_size(logged):
    _, proxies, _ = logged
    pieces = list(ask(logged, "short", stream=True, extra_headers={"x-fake-chunk-size": "4"}))
    assert len(pieces) > 10
    payload = record_of(proxies["short"]).details["payload"]
    assert set(payload) == {"response"}  # request bodies were not asked for
    response = payload["response"]
    assert response["body"].startswith("data: {")
    assert len(response["body"].encode()) <= 256
    assert response["truncated"] is True and response["bytes"] > 256
    assert "jane.doe" not in response["body"]


def test_the_log_destination_writes_a_json_line_and_no_details(logged):
    server, proxies, _ = logged
    ask(logged, "log")

    def line():
        for text in server.log().splitlines():
            if text.startswith("{") and '"gatehouse.payload"' in text:
                return json.loads(text)
        return None

    found = wait_until(line, timeout=5)
    assert (found["proxy"], found["status"], found["message"]) == (
        proxies["log"].slug,
        200,
        "payload",
    )
    assert "[EMAIL]" in found["request"]["body"] and "[PHONE]" in found["response"]["body"]
    assert "jane.doe" not in server.log()
    assert "payload" not in (record_of(proxies["log"]).details or {})


def test_without_the_policy_nothing_is_kept(logged):
    server, proxies, keys = logged
    response = httpx.post(
        f"{server.invoke_url(proxies['off'])}/chat/completions",
        headers={"Authorization": f"Bearer {keys['off']}", **ECHO},
        json={"model": "fake-model", "messages": [{"role": "user", "content": PROMPT}]},
        timeout=10,
    )
    assert response.status_code == 200
    assert "payload" not in (record_of(proxies["off"]).details or {})


def test_pii_spelled_with_json_escapes_is_redacted_too(logged):
    server, proxies, keys = logged
    proxy = proxies["details"]
    before = UsageRecord.objects.filter(proxy=proxy.slug).count()
    # JSON that spells the address and a quote with escapes, beside an escaped backslash.
    body = (
        b'{"model": "fake-model", "messages": [{"role": "user", "content": '
        b'"Write to jane.doe\\u0040example.com, say \\u0022hi\\u0022 and keep \\\\u0040."}]}'
    )
    response = httpx.post(
        f"{server.invoke_url(proxy)}/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {keys['details']}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    wait_until(lambda: UsageRecord.objects.filter(proxy=proxy.slug).count() > before, timeout=5)
    request = record_of(proxy).details["payload"]["request"]
    assert "jane.doe" not in request["body"] and request["redacted"] == 1
    sent = json.loads(request["body"])
    assert sent["messages"][0]["content"] == 'Write to [EMAIL], say "hi" and keep \\u0040.'
