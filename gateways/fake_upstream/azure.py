"""Azure OpenAI (and Azure AI Foundry's OpenAI routes): OpenAI's wire format under
``/openai/deployments/{deployment}/...?api-version=...`` (the version is required) and the
``/openai/v1/...`` routes (where it is not). The key travels in ``api-key`` (the ``/openai/v1``
routes take ``Authorization: Bearer`` too); answers carry Azure's content-filter results."""

from typing import Any

from gateways.fake_upstream.exchange import (
    Exchange,
    Reply,
    bearer_token,
    json_reply,
    refused_key,
    sse,
)
from gateways.fake_upstream.openai import OpenAI
from gateways.fake_upstream.vendor import route

DEPLOYMENT = r"/openai/deployments/(?P<deployment>[^/]+)"
DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
SAFE = {"filtered": False, "severity": "safe"}
FILTERS = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}


class Azure(OpenAI):
    name = "azure-openai"
    routes = [
        (route("POST", DEPLOYMENT + r"/chat/completions"), "chat_completions"),
        (route("POST", DEPLOYMENT + r"/embeddings"), "embeddings"),
        (route("POST", r"/openai/(?P<v1>v1/)?responses"), "responses"),
        (route("POST", r"/openai/(?P<v1>v1)/chat/completions"), "chat_completions"),
        (route("POST", r"/openai/(?P<v1>v1)/embeddings"), "embeddings"),
        (route("GET", r"/openai/(?P<v1>v1/)?models"), "models"),
    ]

    def refuse(self, exchange: Exchange, found) -> Reply | None:
        versionless = bool(found.groupdict().get("v1"))
        key = exchange.headers.get("api-key")
        if key is None and versionless:
            key = bearer_token(exchange)
        if not key or refused_key(key):
            return json_reply(401, {"error": {"code": "401", "message": DENIED}})
        if not versionless and not exchange.params.get("api-version"):
            return json_reply(404, {"error": {"code": "404", "message": "Resource not found"}})
        return None

    def bad_request(self, message: str) -> Reply:
        return json_reply(400, {"error": {"code": "BadRequest", "message": message}})

    def model_of(self, exchange: Exchange, found) -> str:
        model = exchange.request.get("model") if isinstance(exchange.request, dict) else None
        if isinstance(model, str) and model:
            return model
        return found.groupdict().get("deployment") or "fake-model"

    def completion(self, exchange, found, text, counts) -> dict[str, Any]:
        completion = super().completion(exchange, found, text, counts)
        completion["prompt_filter_results"] = [
            {"prompt_index": 0, "content_filter_results": FILTERS}
        ]
        completion["choices"][0]["content_filter_results"] = FILTERS
        return completion

    def completion_chunks(self, exchange, found, pieces, with_usage) -> list[bytes]:
        # Azure opens a stream with a chunk of no choices holding the prompt's filter results.
        opening = {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}],
        }
        events = super().completion_chunks(exchange, found, pieces, with_usage)
        return [sse(opening), *events]
