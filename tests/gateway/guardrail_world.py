"""A gateway serving one proxy per guardrail scenario, for the guardrail tests.

Each scenario is a function that attaches guardrails to a fresh proxy (or its provider); all
proxies are deployed before the gateway process starts, so every test reads a compiled chain.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import anthropic
import httpx
import openai

from gateways.models import UsageRecord
from guardrails.services import attachment_create
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import (
    GatewayServer,
    make_anthropic_proxy,
    make_openai_proxy,
    wait_until,
)

MODEL = "fake-model"


@dataclass
class Scenario:
    setup: Callable
    api: str = "openai"


@dataclass
class GuardedWorld:
    server: GatewayServer
    proxies: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.server.invoke_url(self.proxies[name])

    def openai(self, name: str, **headers: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.url(name),
            api_key=self.keys[name],
            max_retries=0,
            default_headers=headers or None,
        )

    def anthropic(self, name: str, **headers: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url(name),
            api_key=self.keys[name],
            max_retries=0,
            default_headers=headers or None,
        )

    def post(self, name: str, payload: dict, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.url(name)}/chat/completions",
            headers={"Authorization": f"Bearer {self.keys[name]}", **headers},
            json=payload,
            timeout=30,
        )

    def stream_raw(self, name: str, payload: dict, **headers: str) -> bytes:
        with httpx.stream(
            "POST",
            f"{self.url(name)}/chat/completions",
            headers={"Authorization": f"Bearer {self.keys[name]}", **headers},
            json={**payload, "stream": True},
            timeout=30,
        ) as response:
            return b"".join(response.iter_raw())


def serve(start_gateway, upstream_url: str, gateway_name: str, scenarios: dict) -> GuardedWorld:
    """Create and deploy one proxy per scenario, then start a gateway serving them all."""
    from deployments.services import deploy

    gateway = GatewayFactory(name=gateway_name)
    proxies, keys = {}, {}
    for name, scenario in scenarios.items():
        if scenario.api == "anthropic":
            proxy = make_anthropic_proxy(upstream_url, f"{gateway_name} {name}")
        else:
            proxy = make_openai_proxy(upstream_url, f"{gateway_name} {name}")
        scenario.setup(proxy)
        deploy(proxy=proxy, gateway=gateway)
        proxies[name] = proxy
        keys[name] = api_key(proxy)[1]
    return GuardedWorld(start_gateway(gateway.slug), proxies, keys)


def on_proxy(policy: str, params: dict, **kwargs) -> Callable:
    def setup(proxy):
        attachment_create(policy=policy, params=params, proxy=proxy, **kwargs)

    return setup


def on_both(*steps: Callable) -> Callable:
    def setup(proxy):
        for step in steps:
            step(proxy)

    return setup


def on_provider(policy: str, params: dict) -> Callable:
    def setup(proxy):
        attachment_create(policy=policy, params=params, provider=proxy.provider)

    return setup


def reply(text: str, chunk_size: int | None = None) -> dict[str, str]:
    """Fake-upstream headers: answer with ``text``, streamed in pieces of ``chunk_size``."""
    headers = {"x-fake-reply": quote(text)}
    if chunk_size:
        headers["x-fake-chunk-size"] = str(chunk_size)
    return headers


def echo(chunk_size: int | None = None) -> dict[str, str]:
    headers = {"x-fake-mode": "echo"}
    if chunk_size:
        headers["x-fake-chunk-size"] = str(chunk_size)
    return headers


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def sdk_stream_text(stream) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def last_record_id() -> int:
    return UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0


def record_after(proxy, last_id: int) -> UsageRecord:
    """The first usage record of ``proxy`` written after ``last_id`` (records are batched)."""
    records = UsageRecord.objects.filter(proxy=proxy.slug, id__gt=last_id).order_by("id")
    return wait_until(records.first, timeout=5)


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))
