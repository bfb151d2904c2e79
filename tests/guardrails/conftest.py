"""Helpers for the guardrail unit tests: compile a policy, run its hooks, stream text through
it, and a small HTTP server on loopback for the URL guardrail."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from gateways.dataplane.chain import UpstreamAnswer
from guardrails.catalog.url_checks import close_url_check_client
from guardrails.engine import Chain, Intervention, compile_chain
from guardrails.registry import (
    Policy,
    RequestContext,
    Verdict,
    get_policy,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def compiled(name: str, params: dict[str, Any]) -> Policy:
    return get_policy(name).compile(params)


def chat(content: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}]}


def completion(content: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def answer(body: Any) -> UpstreamAnswer:
    """A complete JSON answer holding ``body``, as the gateway hands it to the response phase."""
    return UpstreamAnswer(200, "application/json", orjson.dumps(body))


async def request_verdict(policy: Policy, body: Any, state: dict | None = None) -> Verdict | None:
    return await policy.on_request(RequestContext(body, {} if state is None else state))


def chain_of(*policies: tuple[str, dict[str, Any]], provider: tuple = ()) -> Chain:
    """A chain with the given (policy, params) pairs on the proxy and on the provider."""
    proxy = [
        {"id": i, "policy": n, "version": "v1", "params": p} for i, (n, p) in enumerate(policies)
    ]
    prov = [
        {"id": 100 + i, "policy": n, "version": "v1", "params": p}
        for i, (n, p) in enumerate(provider)
    ]
    return compile_chain(proxy, prov)


async def stream_text(
    chain: Chain, deltas: list[str], state: dict | None = None
) -> tuple[list[str], Intervention | None]:
    """Feed ``deltas`` through ``chain.stream``; returns what was released at each step (the
    last item is what ``finish`` released) and the intervention, if any."""
    guard = chain.stream({} if state is None else state)
    released = []
    for delta in deltas:
        text, intervention = await guard.feed(delta)
        released.append(text)
        if intervention is not None:
            return released, intervention
    text, intervention = await guard.finish()
    released.append(text)
    return released, intervention


class _Handler(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        status = {"/ok": 200, "/moved": 301, "/missing": 404, "/broken": 500}.get(self.path, 404)
        self.send_response(status)
        if status == 301:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def loopback_site():
    """An HTTP server on a free loopback port: HEAD /ok 200, /moved 301, /missing 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
async def url_check_client(anyio_backend):
    """Closes the shared HTTP client of URL checks on the test's loop when the test ends."""
    yield
    await close_url_check_client()


@pytest.fixture
def web_server(loopback_site, settings, url_check_client) -> str:
    """``loopback_site``, with loopback allowed to URL checks for the test (it is refused
    otherwise)."""
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return loopback_site


async def request_error(name: str, params: dict[str, Any], body: Any) -> dict[str, Any] | None:
    """The error body the gateway would send for ``body``, or None when the request passes."""
    from guardrails.engine import intervention_body

    result = await chain_of((name, params)).run_request(body, {})
    return None if result.intervention is None else intervention_body(result.intervention)


async def response_error(name: str, params: dict[str, Any], body: Any) -> dict[str, Any] | None:
    from guardrails.engine import intervention_body

    result = await chain_of((name, params)).run_response(answer(body), {})
    return None if result.intervention is None else intervention_body(result.intervention)
