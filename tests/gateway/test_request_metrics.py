"""The gateway's request metrics after known traffic: exact counts of requests, tokens, cost,
guardrail actions and limit rejections, with bounded labels, summed over two workers."""

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deployments.services import deploy
from guardrails.services import attachment_create
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy
from tests.limits.conftest import REDIS_URL, redis_reachable

PLAIN, STREAMED, REFUSED, LIMIT = 5, 3, 2, 2


@pytest.fixture(scope="module")
def traffic(committed, fake_upstream, start_gateway):
    gateway = GatewayFactory(name="metered")
    chat = make_openai_proxy(fake_upstream.url, "metered chat")
    guarded = make_openai_proxy(fake_upstream.url, "metered guarded")
    attachment_create(policy="word-count-guardrail", proxy=guarded, params={"request": {"max": 1}})
    limited = make_openai_proxy(fake_upstream.url, "metered limited")
    attachment_create(
        policy="basic-ratelimit",
        proxy=limited,
        params={"limits": [{"requests": LIMIT, "duration": 1, "unit": "hour"}]},
    )
    for proxy in (chat, guarded, limited):
        deploy(proxy=proxy, gateway=gateway)
    keys = {p.slug: api_key(p)[1] for p in (chat, guarded, limited)}
    if not redis_reachable():
        pytest.skip("Redis is not reachable (two workers share their limit counters there)")
    server = start_gateway(
        gateway.slug,
        workers=2,
        GATEHOUSE_LIMITS_REDIS_URL=REDIS_URL,
        GATEHOUSE_LIMITS_KEY_PREFIX=f"gatehouse:test-metrics:{uuid.uuid4().hex}:",
    )

    def post(proxy, key=None, **body):
        return httpx.post(
            f"{server.invoke_url(proxy)}/chat/completions",
            headers={"Authorization": f"Bearer {key or keys[proxy.slug]}"},
            json={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "two words"}],
                **body,
            },
            timeout=10,
        )

    for _ in range(PLAIN):
        assert post(chat).status_code == 200
    for _ in range(STREAMED):
        assert post(chat, stream=True).status_code == 200
    for _ in range(REFUSED):
        assert post(chat, key="gh-wrong").status_code == 401
    assert post(chat, model="a model nobody configured").status_code == 200
    assert post(guarded).status_code == 422
    statuses = [post(limited).status_code for _ in range(LIMIT + 1)]
    assert statuses == [200] * LIMIT + [429]
    return server, chat, guarded, limited, gateway


def samples(server) -> dict[tuple, float]:
    text = httpx.get(f"{server.url}/_gatehouse/metrics", timeout=5).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_status_and_outcome(traffic):
    server, chat, _, _, gateway = traffic
    found = samples(server)
    where = {"proxy": chat.slug, "gateway": gateway.slug, "provider": chat.provider.slug}
    ok = value(
        found, "gatehouse_requests_total", **where, model="gpt-4o", status_class="2xx", outcome="ok"
    )
    assert ok == PLAIN + STREAMED
    refused = value(
        found, "gatehouse_requests_total", **where, model="", status_class="4xx", outcome="rejected"
    )
    assert refused == REFUSED


def test_a_model_nobody_configured_is_counted_as_other(traffic):
    server, chat, _, _, gateway = traffic
    found = samples(server)
    where = {"proxy": chat.slug, "gateway": gateway.slug, "provider": chat.provider.slug}
    other = value(
        found, "gatehouse_requests_total", **where, model="other", status_class="2xx", outcome="ok"
    )
    assert other == 1
    assert not any("nobody" in str(labels) for _, labels in found)


def test_tokens_and_cost_are_counted(traffic):
    server, chat, _, _, gateway = traffic
    found = samples(server)
    where = {"proxy": chat.slug, "gateway": gateway.slug, "provider": chat.provider.slug}
    prompt = value(found, "gatehouse_tokens_total", **where, model="gpt-4o", kind="prompt")
    assert prompt == 10 * (PLAIN + STREAMED)  # the fake upstream's prompt count per call
    assert value(found, "gatehouse_cost_usd_total", **where, model="gpt-4o") > 0


def test_latencies_are_histograms_and_streams_have_a_first_byte(traffic):
    server, chat, _, _, gateway = traffic
    found = samples(server)
    where = {"proxy": chat.slug, "gateway": gateway.slug, "provider": chat.provider.slug}
    assert value(found, "gatehouse_request_duration_seconds_count", **where) == (
        PLAIN + STREAMED + REFUSED + 1
    )
    assert value(found, "gatehouse_time_to_first_byte_seconds_count", **where) == STREAMED


def test_guardrail_interventions_and_limit_rejections_are_counted(traffic):
    server, _, guarded, limited, gateway = traffic
    found = samples(server)
    intervened = value(
        found,
        "gatehouse_guardrail_actions_total",
        proxy=guarded.slug,
        gateway=gateway.slug,
        policy="word-count-guardrail",
        action="intervened",
        direction="REQUEST",
    )
    assert intervened == 1
    rejected = value(
        found,
        "gatehouse_limit_rejections_total",
        proxy=limited.slug,
        gateway=gateway.slug,
        policy="basic-ratelimit",
        status_code="429",
    )
    assert rejected == 1


def test_the_process_reports_its_snapshot_and_usage_queue(traffic):
    server, _, _, _, gateway = traffic
    found = samples(server)
    assert value(found, "gatehouse_snapshot_revision", gateway=gateway.slug) > 0
    assert ("gatehouse_usage_queue_depth", (("gateway", gateway.slug),)) in found
