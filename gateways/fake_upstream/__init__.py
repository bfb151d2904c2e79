"""A fake LLM upstream for the demo and the tests, with no network access: one ASGI app that
speaks each vendor's wire format as its official SDK expects, checks each vendor's credential
and answers auth failures in each vendor's error shape.

Routes (matched at the end of the path, so a provider URL may add any prefix):
  OpenAI      ``Authorization: Bearer``
              POST /v1/chat/completions (SSE with ``stream``; usage on a last chunk when
              ``stream_options.include_usage``), POST /v1/embeddings, POST /v1/responses
              (the Responses API; typed SSE events with ``stream``), GET /v1/models[/{id}]
  Azure       ``api-key`` (``/openai/v1`` routes: or ``Authorization: Bearer``)
              POST /openai/deployments/{deployment}/chat/completions and /embeddings
              (``?api-version=`` required), POST /openai/v1/chat/completions, /embeddings,
              /responses, GET /openai/v1/models
  Anthropic   ``x-api-key`` (or ``Authorization: Bearer``) and ``anthropic-version``
              POST /v1/messages (named SSE events with ``stream``), /v1/messages/count_tokens
  Gemini      ``x-goog-api-key`` (or ``?key=``)
              POST /{v1,v1beta}/models/{model}:generateContent, :streamGenerateContent (SSE
              with ``?alt=sse``, else a JSON array), :countTokens, :embedContent
  Mistral     ``Authorization: Bearer``; its paths are OpenAI's, so it answers under a leading
              ``/mistral``: POST /mistral/v1/chat/completions (usage on the last chunk always;
              unknown fields such as ``stream_options`` get 422), /mistral/v1/embeddings
  Bedrock     ``Authorization: Bearer`` (a Bedrock API key) or a SigV4 signature, verified
              for ``bedrock.ACCESS_KEY_ID`` / ``bedrock.SECRET_ACCESS_KEY`` and for the
              temporary credentials the fake STS issues (with their session token)
              POST /model/{modelId}/converse, /converse-stream, /invoke,
              /invoke-with-response-stream (AWS event-stream frames; invoke: Anthropic models)
  AWS STS     SigV4 as Bedrock's; POST .../sts/ ``Action=AssumeRole`` (point botocore at it with
              ``AWS_ENDPOINT_URL_STS={url}/sts``): temporary credentials valid for an hour, 12
              minutes for a role named ``short-lived...`` (inside botocore's refresh window),
              AccessDenied for one named ``denied...``
A key (or Bearer token) beginning with ``invalid`` is refused as a wrong key. Usage counts
``PROMPT_TOKENS`` uncached input tokens and one output token per stream piece, spelt each
vendor's way (cached input inside OpenAI's and Gemini's prompt count, beside Anthropic's and
Bedrock's).

Test controls travel as request headers (the gateway forwards them):
  x-fake-delay: seconds to wait before the response headers
  x-fake-chunks: number of content chunks in a stream (default 3)
  x-fake-chunk-delay: seconds between stream chunks
  x-fake-status / x-fake-body: answer with this status and body instead
  x-fake-mode: ``drop`` (cut the connection mid-stream), ``garbage`` (a non-JSON body labelled
               JSON), ``broken`` (promise more bytes than are sent, then hang up) or ``echo``
               (answer with the last user message's text, as is)
  x-fake-reply: answer with this text (URL-encoded) instead of the usual one
  x-fake-chunk-size: with echo or a reply, stream the text in pieces of this many characters
               (default 8) instead of ``x-fake-chunks`` pieces
  x-fake-burst: ``1`` sends a stream's events in one write (as a busy upstream's arrive)
  x-fake-response-headers: ``name=value;name=value`` headers to add to a plain answer
  x-fake-usage: a JSON object sent as the usage of a plain answer (``usage``, Gemini's
               ``usageMetadata``) instead of the counted one, e.g. ``{"prompt_tokens": -5}``
               for an upstream that reports nonsense
  x-fake-cached-tokens / x-fake-cache-write-tokens: input tokens to report as read from /
               written to the vendor's prompt cache (default 0)
Every request is recorded (method, path and raw path, query, headers, body, whether its
stream was cut by the client): ``GET /__requests__`` lists them, ``DELETE /__requests__``
clears them.

Faults by path prefix, for routing tests (several providers on one fake upstream, each with its
own prefix in its URL): ``POST /__faults__`` with ``{"prefix": "/primary", "status": 503,
"retry_after": "1", "delay": 0.5, "mode": "drop", "count": 2}`` answers requests under that
prefix with that status (and ``Retry-After``), waits ``delay`` seconds before answering, or
cuts their streams (``mode``), for the next ``count`` requests (every one without a count);
``DELETE /__faults__`` clears them.
"""

import asyncio
import threading
import time
from typing import Any

import orjson

from gateways.fake_upstream.anthropic import Anthropic
from gateways.fake_upstream.azure import Azure
from gateways.fake_upstream.bedrock import Bedrock
from gateways.fake_upstream.exchange import (
    JSON,
    PROMPT_TOKENS,
    BadJson,
    Dropped,
    Exchange,
    Reply,
    json_reply,
)
from gateways.fake_upstream.gemini import Gemini
from gateways.fake_upstream.mistral import Mistral
from gateways.fake_upstream.openai import OpenAI
from gateways.fake_upstream.sts import Sts
from gateways.fake_upstream.vendor import Vendor

__all__ = ["PROMPT_TOKENS", "FakeUpstream", "application", "serve_in_thread"]


def vendors() -> list[Vendor]:
    """Every vendor, the most specific paths first (Azure's and Mistral's end like OpenAI's)."""
    return [Sts(), Bedrock(), Gemini(), Azure(), Mistral(), Anthropic(), OpenAI()]


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.vendors = vendors()
        self.faults: list[dict[str, Any]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path == "/__faults__":
            if scope["method"] == "DELETE":
                self.faults.clear()
            else:
                self.faults.append(orjson.loads(body))
            await send({"type": "http.response.start", "status": 200, "headers": JSON})
            return await send({"type": "http.response.body", "body": b"{}"})
        if path == "/__requests__":
            if scope["method"] == "DELETE":
                self.requests.clear()
            payload = orjson.dumps(self.requests)
            await send({"type": "http.response.start", "status": 200, "headers": JSON})
            return await send({"type": "http.response.body", "body": payload})
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        record = {
            "method": scope["method"],
            "path": path,
            "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "cut": False,
            "completed": False,
        }
        self.requests.append(record)
        exchange = Exchange(
            method=scope["method"],
            path=path,
            raw_path=record["raw_path"] or path,
            query=record["query"],
            headers=headers,
            body=body,
            record=record,
            receive=receive,
            send=send,
        )
        await self.respond(exchange)

    def fault_for(self, path: str) -> dict[str, Any] | None:
        """The fault set for ``path``'s prefix, counted down when it has a count."""
        for fault in self.faults:
            if path.startswith(fault["prefix"]):
                if "count" in fault:
                    if fault["count"] <= 0:
                        continue
                    fault["count"] -= 1
                return fault
        return None

    async def respond(self, exchange: Exchange) -> None:
        headers = exchange.headers
        fault = self.fault_for(exchange.path)
        if fault is not None:
            if fault.get("delay"):
                await asyncio.sleep(float(fault["delay"]))
            if fault.get("mode"):
                headers["x-fake-mode"] = fault["mode"]
            if fault.get("status"):
                extra = []
                if fault.get("retry_after") is not None:
                    extra.append((b"retry-after", str(fault["retry_after"]).encode()))
                error = {"error": {"message": "injected fault", "type": "server_error"}}
                return await exchange.answer(json_reply(int(fault["status"]), error, extra))
        delay = float(headers.get("x-fake-delay") or 0)
        if delay:
            await asyncio.sleep(delay)
        vendor, handler, found = self.route(exchange)
        if vendor is not None:
            refusal = vendor.refuse(exchange, found)
            if refusal is not None:
                return await exchange.answer(refusal)
        if headers.get("x-fake-status"):
            status = int(headers["x-fake-status"])
            payload = headers.get("x-fake-body", "").encode()
            return await exchange.answer(Reply(status, payload))
        mode = headers.get("x-fake-mode", "")
        if mode == "garbage":
            return await exchange.answer(Reply(200, b"<html>not json"))
        if mode == "broken":
            start = [*JSON, (b"content-length", b"1000")]
            await exchange.send({"type": "http.response.start", "status": 200, "headers": start})
            part = {"type": "http.response.body", "body": b'{"id": ', "more_body": True}
            await exchange.send(part)
            raise Dropped("broken response")
        if vendor is None:
            message = f"No route {exchange.method} {exchange.path}"
            return await exchange.answer(
                json_reply(404, {"error": {"message": message, "type": "not_found"}})
            )
        if vendor.json_body:
            try:
                request = exchange.request
            except BadJson:
                return await exchange.answer(vendor.bad_request("bad json"))
            if not isinstance(request, dict):
                return await exchange.answer(vendor.bad_request("the body is not a JSON object"))
        await handler(exchange, found)

    def route(self, exchange: Exchange):
        """The vendor, handler and path match that answer ``exchange`` (Nones for none)."""
        for vendor in self.vendors:
            matched = vendor.match(exchange.method, exchange.path)
            if matched is not None:
                return vendor, *matched
        return None, None, None


def serve_in_thread(host: str = "127.0.0.1", port: int = 8090, app: FakeUpstream | None = None):
    """Run a fake upstream under uvicorn in a daemon thread; returns ``(server, thread)``.
    Stop it with ``server.should_exit = True`` and ``thread.join()``."""
    import uvicorn

    config = uvicorn.Config(
        app or FakeUpstream(), host=host, port=port, log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return server, thread


application = FakeUpstream()
