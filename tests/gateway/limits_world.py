"""Gateways enforcing rate limits, for the rate-limit tests.

Each scenario attaches limits to a fresh proxy (or its provider); every proxy is deployed
before the gateway processes start. With Redis the processes get ``REDIS_URL`` and a key
prefix of their own (deleted afterwards); without it each process counts in memory.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import anthropic
import httpx
import openai
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import GatewayFactory, ProxyFactory, api_key
from tests.gateway.conftest import GatewayServer, make_anthropic_proxy, make_openai_proxy
from tests.gateway.guardrail_world import MODEL, chat

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_reachable(url: str = REDIS_URL) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def delete_keys(url: str, prefix: str) -> None:
    if not redis_reachable(url):
        return
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@dataclass
class Scenario:
    setup: Callable = lambda proxy: None
    keys: int = 1
    # Serve the proxy from the provider of another scenario's proxy.
    provider_of: str | None = None
    api: str = "openai"


@dataclass
class LimitedWorld:
    servers: list[GatewayServer]
    prefix: str
    redis_url: str | None
    proxies: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)  # name -> [(APIKey, secret), ...]

    @property
    def server(self) -> GatewayServer:
        return self.servers[0]

    def url(self, name: str, server: int = 0) -> str:
        return self.servers[server].invoke_url(self.proxies[name])

    def secret(self, name: str, key: int = 0) -> str:
        return self.keys[name][key][1]

    def key_id(self, name: str, key: int = 0) -> str:
        return str(self.keys[name][key][0].pk)

    def post(
        self, name: str, *, key: int = 0, server: int = 0, headers: dict | None = None, **payload
    ) -> httpx.Response:
        return httpx.post(
            f"{self.url(name, server)}/chat/completions",
            headers={"Authorization": f"Bearer {self.secret(name, key)}", **(headers or {})},
            json={"model": MODEL, "messages": chat("hello"), **payload},
            timeout=30,
        )

    def openai(self, name: str, key: int = 0) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url(name), api_key=self.secret(name, key), max_retries=0)

    def anthropic(self, name: str, key: int = 0) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url(name), api_key=self.secret(name, key), max_retries=0
        )

    def stream(self, name: str, *, key: int = 0) -> httpx.Response:
        """A streamed completion, read to the end."""
        with httpx.stream(
            "POST",
            f"{self.url(name)}/chat/completions",
            headers={"Authorization": f"Bearer {self.secret(name, key)}"},
            json={"model": MODEL, "messages": chat("hello"), "stream": True},
            timeout=30,
        ) as response:
            response.read()
        return response


def serve(
    start_gateway,
    upstream_url: str,
    gateway_name: str,
    scenarios: dict[str, Scenario],
    *,
    redis_url: str | None = None,
    processes: int = 1,
    workers: int = 1,
) -> LimitedWorld:
    """Create and deploy one proxy per scenario, then start the gateway processes."""
    from deployments.services import deploy

    gateway = GatewayFactory(name=gateway_name)
    proxies, keys = {}, {}
    for name, scenario in scenarios.items():
        label = f"{gateway_name} {name}"
        if scenario.provider_of:
            proxy = ProxyFactory(name=label, provider=proxies[scenario.provider_of].provider)
        elif scenario.api == "anthropic":
            proxy = make_anthropic_proxy(upstream_url, label)
        else:
            proxy = make_openai_proxy(upstream_url, label)
        scenario.setup(proxy)
        proxies[name] = proxy
        keys[name] = [api_key(proxy, name=f"key {i}") for i in range(scenario.keys)]
    for proxy in proxies.values():
        deploy(proxy=proxy, gateway=gateway)
    prefix = f"gatehouse-test:{uuid.uuid4().hex}:"
    env = {"GATEHOUSE_LIMITS_KEY_PREFIX": prefix}
    if redis_url:
        env["REDIS_URL"] = redis_url
    servers = [start_gateway(gateway.slug, workers=workers, **env) for _ in range(processes)]
    return LimitedWorld(servers, prefix, redis_url, proxies, keys)


def backend_world(request, start: Callable[[str | None], LimitedWorld]):
    """The world on the backend ``request.param`` names (``redis`` or ``memory``); its Redis
    keys are deleted afterwards."""
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("Redis is not reachable")
        world = start(REDIS_URL)
        request.addfinalizer(lambda: delete_keys(REDIS_URL, world.prefix))
        return world
    return start(None)


def requests_limit(count: int, unit: str = "hour", duration: int = 1, **params) -> dict:
    return {"limits": [{"requests": count, "unit": unit, "duration": duration}], **params}


def header_map(response: httpx.Response) -> dict[str, str]:
    """The rate-limit headers of a response."""
    return {
        name: value
        for name, value in response.headers.items()
        if "ratelimit" in name or name == "retry-after"
    }


def limit_metrics(server: GatewayServer) -> dict[str, float]:
    """A gateway's limit counters as ``name{labels}`` -> value, from ``/_gatehouse/metrics``
    (read with prometheus-client's own parser)."""
    response = httpx.get(f"{server.url}/_gatehouse/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.startswith("gatehouse_limit_") and sample.name.endswith("_total"):
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = sample.value
    return found
