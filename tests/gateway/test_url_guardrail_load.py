"""A request-side URL guardrail under a prompt full of URLs, on a running gateway: the gateway
keeps answering its health check at once while the prompt is judged, refuses a prompt over
the URL cap without checking any of its URLs, and checks at most ten URLs at a time."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from guardrails.services import attachment_create
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import GatewayServer, make_openai_proxy
from tests.gateway.guardrail_world import MODEL, GuardedWorld, chat
from tests.guardrails.recording_site import RecordingSite

HEALTH_DELAY_LIMIT = 0.1


@dataclass
class Run:
    """One prompt sent while the health check was timed back to back."""

    response: httpx.Response
    health_delays: list[float]


def prompt_of_urls(base: str, count: int) -> dict:
    text = "Summarise these: " + " ".join(f"{base}/doc-{i}" for i in range(count))
    return {"model": MODEL, "messages": chat(text)}


def run_beside_health_checks(world: GuardedWorld, name: str, payload: dict) -> Run:
    """Send ``payload`` and time ``GET /_gatehouse/health`` until its answer arrives; the
    delays are each check's latency beyond the median of five taken before."""
    health = f"{world.server.url}/_gatehouse/health"
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(max_workers=1) as pool:
        quiet = [timed(client, health) for _ in range(5)]
        baseline = statistics.median(quiet)
        pending = pool.submit(world.post, name, payload)
        latencies = [timed(client, health)]
        while not pending.done():
            latencies.append(timed(client, health))
        return Run(pending.result(), [latency - baseline for latency in latencies])


def timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    client.get(url).raise_for_status()
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def quick_site():
    with RecordingSite() as site:
        yield site


@pytest.fixture(scope="module")
def slow_site():
    with RecordingSite(delay=0.05) as site:
        yield site


@pytest.fixture(scope="module")
def world(committed, fake_upstream, start_gateway) -> GuardedWorld:
    from deployments.services import deploy

    gateway = GatewayFactory(name="url load")
    scenarios = {
        "capped": {"request": {"enabled": True, "showAssessment": True}},
        "widest": {"request": {"enabled": True, "maxUrls": 200}},
    }
    proxies, keys = {}, {}
    for name, params in scenarios.items():
        proxy = make_openai_proxy(fake_upstream.url, f"url load {name}")
        attachment_create(policy="url-guardrail", params=params, proxy=proxy)
        deploy(proxy=proxy, gateway=gateway)
        proxies[name], keys[name] = proxy, api_key(proxy)[1]
    server: GatewayServer = start_gateway(
        gateway.slug,
        GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS="127.0.0.0/8",
        GATEHOUSE_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8",
    )
    return GuardedWorld(server, proxies, keys)


@pytest.fixture(scope="module")
def two_thousand_urls(world, quick_site) -> Run:
    return run_beside_health_checks(world, "capped", prompt_of_urls(quick_site.url, 2000))


@pytest.fixture(scope="module")
def two_hundred_slow_urls(world, slow_site) -> Run:
    return run_beside_health_checks(world, "widest", prompt_of_urls(slow_site.url, 200))


def test_a_prompt_with_2000_urls_does_not_delay_the_health_check(two_thousand_urls):
    assert max(two_thousand_urls.health_delays) < HEALTH_DELAY_LIMIT


def test_a_prompt_with_2000_urls_is_refused_for_too_many_urls(two_thousand_urls):
    response = two_thousand_urls.response
    assert (response.status_code, response.json()["error"]["actionReason"]) == (
        422,
        "Too many URLs to validate: more than 50.",
    )


def test_no_url_of_a_prompt_over_the_cap_is_checked(two_thousand_urls, quick_site):
    assert quick_site.requests == []


def test_two_hundred_slow_checks_do_not_delay_the_health_check(two_hundred_slow_urls):
    assert max(two_hundred_slow_urls.health_delays) < HEALTH_DELAY_LIMIT


def test_a_prompt_whose_urls_all_answer_is_relayed(two_hundred_slow_urls, slow_site):
    assert (two_hundred_slow_urls.response.status_code, len(slow_site.requests)) == (200, 200)


def test_the_gateway_checks_at_most_ten_urls_of_a_prompt_at_once(two_hundred_slow_urls, slow_site):
    assert 1 < slow_site.most_in_flight <= 10
