"""Azure OpenAI and Azure AI Foundry: OpenAI's wire format behind an ``api-key`` header."""

import re
from typing import Any

from gateways.dataplane.adapters.base import ProviderAdapter

_DEPLOYMENT = re.compile(r"/openai/deployments/([^/]+)/")
# A deployment route: the deployment (the model) and the operation's path after it.
_DEPLOYMENT_ROUTE = re.compile(r"/openai/deployments/([^/]+)(/.+)")


class AzureOpenAIAdapter(ProviderAdapter):
    """Deployment paths (``/openai/deployments/{name}/...``) name the model when the body
    does not; the ``api-version`` query parameter travels with the request unchanged."""

    family = "azure-openai"
    # Microsoft documents the plain OpenAI client for the /openai/v1 routes: it sends the key
    # as ``Authorization: Bearer``.
    alternate_key_header = (b"authorization", "bearer ")
    native_key_header = b"api-key"
    # The v1 routes take the model in the body and need no api-version: what failover sends.
    operations = {
        "/openai/v1/chat/completions": "chat.completions",
        "/openai/v1/embeddings": "embeddings",
        "/openai/v1/responses": "responses",
    }

    def operation_of(self, resource: str) -> tuple[str, str] | None:
        match = _DEPLOYMENT_ROUTE.fullmatch(resource)
        if match is not None:  # a deployment names the model in the path
            operation = ProviderAdapter.operations.get(match.group(2))
            return (operation, match.group(1)) if operation is not None else None
        return super().operation_of(resource)

    def request_model(self, resource: str, parsed: Any, opaque: str = "") -> str:
        model = super().request_model(resource, parsed, opaque)
        if model:
            return model
        match = _DEPLOYMENT.search(resource)
        return match.group(1) if match else ""


class AzureAIFoundryAdapter(AzureOpenAIAdapter):
    family = "azure-ai-foundry"
    operations = {
        "/chat/completions": "chat.completions",
        "/embeddings": "embeddings",
        "/responses": "responses",
    }
