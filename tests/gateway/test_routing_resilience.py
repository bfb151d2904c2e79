"""Routing and resilience through a running gateway: failover across providers on the fake
upstream's injected faults, backoff honouring Retry-After, circuits that open, are probed and
are shared through Redis, round robins with weights and suspension, and key pools. Each
scenario has providers of its own (circuits and suspensions are per target, per process)."""

import json
import time
from datetime import UTC, datetime

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deployments.selectors import proxy_routing_state
from deployments.services import deploy
from gateways.models import UsageRecord
from guardrails.services import attachment_create
from tests.factories import GatewayFactory, ProviderFactory, ProxyFactory, api_key
from tests.gateway.conftest import free_port, wait_until
from tests.limits.conftest import redis_reachable

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
FAST_BACKOFF = {"initialMs": 10, "maxMs": 50}


def provider(upstream, name: str, prefix: str, credential="sk-upstream-secret", **fields):
    return ProviderFactory(
        name=name,
        template="openai-compatible",
        upstream_url=f"{upstream.url}/{prefix}/v1",
        credential=credential,
        **fields,
    )


def failover(proxy, *targets, **params):
    attachment_create(
        policy="provider-failover",
        proxy=proxy,
        params={
            "targets": [{"provider": t.slug} for t in targets],
            "backoff": FAST_BACKOFF,
            **params,
        },
    )


@pytest.fixture(scope="module")
def world(committed, fake_upstream, start_gateway):
    """A gateway with a proxy per scenario."""
    up = fake_upstream
    gateway = GatewayFactory(name="routing")
    backup = provider(up, "backup", "backup", credential="sk-backup-secret")
    proxies = {}

    def proxy(name, primary, **policy):
        made = ProxyFactory(name=name, provider=primary)
        if policy:
            failover(made, backup, **policy)
        proxies[name] = made
        return made

    proxy("fo-429", provider(up, "p429", "p429"), retryOn=["429", "5xx"])
    proxy("fo-after", provider(up, "pafter", "pafter"), retryOn=["5xx"])
    dead = ProviderFactory(
        name="dead", template="openai-compatible", upstream_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    proxy("fo-dead", dead, retryOn=["connect"])
    slow = provider(up, "pslow", "pslow", first_byte_timeout=0.3)
    proxy("fo-slow", slow, retryOn=["timeout"])
    proxy("fo-stream", provider(up, "pstream", "pstream"), retryOn=["5xx", "connect"])
    breaker = {"failureThreshold": 3, "cooldownSeconds": 1, "shared": True}
    proxy("fo-circuit", provider(up, "pcircuit", "pcircuit"), circuitBreaker=breaker)
    lasting = {"failureThreshold": 2, "cooldownSeconds": 600, "shared": False}
    proxy("fo-seen", provider(up, "pseen", "pseen"), circuitBreaker=lasting)
    round_robin = proxy("rr", provider(up, "prr", "prr"))
    attachment_create(
        policy="model-weighted-round-robin",
        proxy=round_robin,
        params={"models": [{"model": "heavy", "weight": 3}, {"model": "light", "weight": 1}]},
    )
    suspending = proxy("rr-suspend", provider(up, "psuspend", "psuspend"))
    attachment_create(
        policy="model-round-robin",
        proxy=suspending,
        params={"models": [{"model": "a"}, {"model": "b"}], "suspendDuration": 1},
    )
    proxy("pool", provider(up, "ppool", "ppool", credential=["invalid-first", "sk-second"]))
    for name, sticky in (
        ("rr-header", {"location": "header", "identifier": "X-Session"}),
        ("rr-user", {"location": "payload", "identifier": "user"}),
        ("rr-ip", {"location": "ip"}),
    ):
        attachment_create(
            policy="model-round-robin",
            proxy=proxy(name, provider(up, f"p{name}", f"p{name}")),
            params={"models": [{"model": m} for m in "abcd"], "stickyKey": sticky},
        )
    for made in proxies.values():
        deploy(proxy=made, gateway=gateway)
    keys = {name: api_key(made)[1] for name, made in proxies.items()}
    server = start_gateway(gateway.slug)
    return server, proxies, keys, gateway


def call(world, name: str, *, stream=False, headers=None, **extra) -> httpx.Response:
    server, proxies, keys, _ = world
    return httpx.post(
        f"{server.invoke_url(proxies[name])}/chat/completions",
        headers={"Authorization": f"Bearer {keys[name]}", **(headers or {})},
        json={**CHAT, "stream": stream, **extra},
        timeout=20,
    )


def sent_to(upstream, prefix: str) -> list[dict]:
    return [r for r in upstream.received() if r["path"].startswith(f"/{prefix}/")]


def open_circuits(server) -> float:
    text = httpx.get(f"{server.url}/_gatehouse/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gatehouse_open_circuits":
                return sample.value
    return 0.0


def test_a_429_on_the_first_target_is_invisible_to_the_sdk(world, upstream):
    server, proxies, keys, _ = world
    upstream.fault("/p429/", status=429, count=1)
    client = openai.OpenAI(base_url=server.invoke_url(proxies["fo-429"]), api_key=keys["fo-429"])
    answer = client.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content
    (backup,) = sent_to(upstream, "backup")
    assert backup["headers"]["authorization"] == "Bearer sk-backup-secret"


def test_the_usage_row_lists_the_attempts_behind_the_answer(world, upstream):
    upstream.fault("/p429/", status=429, count=1)
    assert call(world, "fo-429").status_code == 200
    row = wait_until(
        lambda: (
            UsageRecord.objects.filter(proxy=world[1]["fo-429"].slug, details__has_key="attempts")
            .order_by("-id")
            .first()
        ),
        timeout=5,
    )
    attempts = row.details["attempts"]
    assert [(a["target"], a["status"]) for a in attempts] == [
        (world[1]["fo-429"].provider.slug, 429),
        ("backup", 200),
    ]
    assert row.status_code == 200


def routing_metrics(server, proxy: str) -> dict[tuple[str, ...], float]:
    """The routing counters of ``proxy``: (target, result) attempts, ("retries",) and
    ("failovers",)."""
    text = httpx.get(f"{server.url}/_gatehouse/metrics", timeout=5).text
    counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("proxy") != proxy:
                continue
            if sample.name == "gatehouse_upstream_attempts_total":
                counts[(sample.labels["target"], sample.labels["result"])] = sample.value
            elif sample.name in ("gatehouse_retries_total", "gatehouse_failovers_total"):
                counts[(sample.name.split("_")[1],)] = sample.value
    return counts


def grown(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_a_call_its_first_attempt_answered_is_counted_and_lists_no_attempts(world, upstream):
    server, proxies, _, _ = world
    proxy = proxies["fo-429"]
    before = routing_metrics(server, proxy.slug)
    sent = datetime.now(UTC)  # rows carry their call's arrival: earlier calls' are older
    assert call(world, "fo-429").status_code == 200
    row = wait_until(
        lambda: UsageRecord.objects.filter(proxy=proxy.slug, created_at__gte=sent).first(),
        timeout=5,
    )
    assert row.status_code == 200 and row.provider == proxy.provider.slug
    assert "attempts" not in row.details
    counted = wait_until(lambda: grown(before, routing_metrics(server, proxy.slug)), timeout=5)
    assert counted == {(proxy.provider.slug, "ok"): 1}


def test_a_retried_call_counts_each_attempt_a_retry_and_a_failover(world, upstream):
    server, proxies, _, _ = world
    proxy = proxies["fo-429"]
    before = routing_metrics(server, proxy.slug)
    upstream.fault("/p429/", status=429, count=1)
    assert call(world, "fo-429").status_code == 200
    counted = wait_until(lambda: grown(before, routing_metrics(server, proxy.slug)), timeout=5)
    assert counted == {
        (proxy.provider.slug, "retried"): 1,
        ("backup", "ok"): 1,
        ("retries",): 1,
        ("failovers",): 1,
    }


def test_a_body_too_deep_to_rewrite_for_the_next_target_gets_400(world, upstream):
    upstream.fault("/p429/", status=429, count=1)
    nested: list = []
    for _ in range(299):
        nested = [nested]
    response = call(world, "fo-429", metadata={"deep": nested})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert len(sent_to(upstream, "p429")) == 1
    assert sent_to(upstream, "backup") == []


def test_retry_after_is_waited_for(world, upstream):
    upstream.fault("/pafter/", status=503, retry_after="0.5", count=1)
    started = time.monotonic()
    response = call(world, "fo-after")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.5


def test_a_refused_connection_fails_over(world, upstream):
    assert call(world, "fo-dead").status_code == 200
    assert len(sent_to(upstream, "backup")) == 1


def test_a_slow_first_byte_times_out_and_fails_over(world, upstream):
    upstream.fault("/pslow/", delay=2, count=1)
    started = time.monotonic()
    assert call(world, "fo-slow").status_code == 200
    assert time.monotonic() - started < 1.5
    assert len(sent_to(upstream, "backup")) == 1


def test_a_stream_cut_after_its_first_byte_is_not_retried(world, upstream):
    upstream.fault("/pstream/", mode="drop", count=1)
    response = call(world, "fo-stream", stream=True)
    assert response.status_code == 200
    assert b"event: error" in response.content
    assert sent_to(upstream, "backup") == []


def test_a_failing_target_is_skipped_once_its_circuit_opens(world, upstream):
    upstream.fault("/pcircuit/", status=503)
    statuses = [call(world, "fo-circuit").status_code for _ in range(6)]
    assert statuses == [200] * 6
    assert len(sent_to(upstream, "pcircuit")) == 3  # the threshold, then skipped
    # After the cool-down one call probes it; a success closes it again.
    httpx.delete(f"{upstream.url}/__faults__")
    time.sleep(1.1)  # the circuit's cool-down is wall-clock time the gateway waits out too
    assert call(world, "fo-circuit").status_code == 200
    assert len(sent_to(upstream, "pcircuit")) == 4
    assert call(world, "fo-circuit").status_code == 200
    assert len(sent_to(upstream, "pcircuit")) == 5


def test_an_open_circuit_reaches_the_control_plane_with_the_next_heartbeat(world, upstream):
    proxies = world[1]
    upstream.fault("/pseen/", status=503)
    assert [call(world, "fo-seen").status_code for _ in range(3)] == [200] * 3

    def seen() -> dict | None:
        state = proxy_routing_state(proxies["fo-seen"])
        found = [t for t in state["targets"] if t["provider"] == "pseen"]
        return found[0] if found and found[0]["state"] == "open" else None

    target = wait_until(seen, timeout=5)
    assert target["failures"] == 2 and target["until"] is not None
    backup = [
        t for t in proxy_routing_state(proxies["fo-seen"])["targets"] if t["provider"] == "backup"
    ]
    assert backup[0]["state"] == "closed"


def test_weights_hold_over_a_thousand_requests(world, upstream):
    for _ in range(1000):
        assert call(world, "rr").status_code == 200
    models = [r["body"] for r in sent_to(upstream, "prr")]
    heavy = sum('"heavy"' in body for body in models)
    assert len(models) == 1000
    assert abs(heavy - 750) <= 30


def models_sent(upstream, prefix: str) -> list[str]:
    return [json.loads(r["body"])["model"] for r in sent_to(upstream, prefix)]


def test_a_header_session_keeps_its_model(world, upstream):
    first = call(world, "rr-header")
    session = first.headers["x-session"]
    assert session.rpartition("_M")[2] in "0123"
    for _ in range(5):
        assert call(world, "rr-header", headers={"X-Session": session}).status_code == 200
    other = call(world, "rr-header")  # no session: the next model, and a new session
    assert other.headers["x-session"] != session
    sent = models_sent(upstream, "prr-header")
    assert len(set(sent[:6])) == 1 and sent[6] != sent[0]


def test_a_payload_field_keeps_each_user_on_one_model(world, upstream):
    for _ in range(4):
        for user in ("ann", "bob", "cyd"):
            assert call(world, "rr-user", user=user).status_code == 200
    sent = models_sent(upstream, "prr-user")
    per_user = [set(sent[i::3]) for i in range(3)]
    assert all(len(models) == 1 for models in per_user)


def test_the_client_address_keeps_its_model(world, upstream):
    for _ in range(6):
        response = call(world, "rr-ip")
        assert response.status_code == 200 and "x-session" not in response.headers
    assert len(set(models_sent(upstream, "prr-ip"))) == 1


def test_a_model_that_answers_5xx_is_suspended_until_its_time_is_up(world, upstream):
    # Plain round robin alternates a, b, a ...: the first call goes to a.
    assert call(world, "rr-suspend", headers={"x-fake-status": "503"}).status_code == 503
    assert call(world, "rr-suspend").status_code == 200
    assert call(world, "rr-suspend").status_code == 200
    bodies = [r["body"] for r in sent_to(upstream, "psuspend")]
    assert ['"a"' in b for b in bodies] == [True, False, False]
    time.sleep(1.1)  # suspendDuration is wall-clock time
    call(world, "rr-suspend")
    call(world, "rr-suspend")
    later = [r["body"] for r in sent_to(upstream, "psuspend")][3:]
    assert sum('"a"' in b for b in later) == 1


def test_all_models_suspended_is_503_in_the_apis_shape(world, upstream):
    failing = {"x-fake-status": "500"}
    call(world, "rr-suspend", headers=failing)
    call(world, "rr-suspend", headers=failing)
    response = call(world, "rr-suspend")
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "All models are currently unavailable"
    time.sleep(1.1)
    assert call(world, "rr-suspend").status_code == 200


def test_a_refused_key_rests_while_the_pool_carries_on(world, upstream):
    assert call(world, "pool").status_code == 200
    first = [r["headers"]["authorization"] for r in sent_to(upstream, "ppool")]
    assert first == ["Bearer invalid-first", "Bearer sk-second"]
    upstream.clear()
    assert call(world, "pool").status_code == 200
    again = [r["headers"]["authorization"] for r in sent_to(upstream, "ppool")]
    assert again == ["Bearer sk-second"]


@pytest.fixture(scope="module")
def pair(world, start_gateway):
    """Two more processes of the routing gateway sharing circuits through Redis."""
    if not redis_reachable():
        pytest.skip("Redis is not reachable")
    from tests.limits.conftest import REDIS_URL

    _, _, _, gateway = world
    return start_gateway(gateway.slug, REDIS_URL=REDIS_URL), start_gateway(
        gateway.slug, REDIS_URL=REDIS_URL
    )


def test_processes_sharing_redis_skip_an_opened_target_together(world, pair, upstream):
    _, proxies, keys, _ = world
    first, second = pair
    upstream.fault("/pcircuit/", status=503)

    def through(server) -> int:
        return httpx.post(
            f"{server.invoke_url(proxies['fo-circuit'])}/chat/completions",
            headers={"Authorization": f"Bearer {keys['fo-circuit']}"},
            json=CHAT,
            timeout=20,
        ).status_code

    assert [through(first) for _ in range(3)] == [200] * 3  # opens the circuit in ``first``
    opened = len(sent_to(upstream, "pcircuit"))
    # ``second`` learns it from Redis (its gauge of open circuits says when).
    wait_until(lambda: open_circuits(second) >= 1, timeout=5)
    assert through(second) == 200
    assert len(sent_to(upstream, "pcircuit")) == opened
