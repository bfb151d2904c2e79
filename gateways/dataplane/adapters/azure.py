"""Azure OpenAI and Azure AI Foundry: OpenAI's wire format behind an ``api-key`` header."""

import re
from typing import Any

from gateways.dataplane.adapters.base import ProviderAdapter

_DEPLOYMENT = re.compile(r"/openai/deployments/([^/]+)/")


class AzureOpenAIAdapter(ProviderAdapter):
    """Deployment paths (``/openai/deployments/{name}/...``) name the model when the body
    does not; the ``api-version`` query parameter travels with the request unchanged."""

    family = "azure-openai"
    # Microsoft documents the plain OpenAI client for the /openai/v1 routes: it sends the key
    # as ``Authorization: Bearer``.
    alternate_key_header = (b"authorization", "bearer ")
    native_key_header = b"api-key"

    def request_model(self, resource: str, parsed: Any, opaque: str = "") -> str:
        model = super().request_model(resource, parsed, opaque)
        if model:
            return model
        match = _DEPLOYMENT.search(resource)
        return match.group(1) if match else ""


class AzureAIFoundryAdapter(AzureOpenAIAdapter):
    family = "azure-ai-foundry"
