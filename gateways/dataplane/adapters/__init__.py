"""Provider adapters, one class per provider family, looked up by the template's adapter."""

from gateways.dataplane.adapters.anthropic import AnthropicAdapter
from gateways.dataplane.adapters.azure import AzureAIFoundryAdapter, AzureOpenAIAdapter
from gateways.dataplane.adapters.base import ProviderAdapter, neutral_error_body
from gateways.dataplane.adapters.bedrock import BedrockAdapter
from gateways.dataplane.adapters.gemini import GeminiAdapter
from gateways.dataplane.adapters.openai import (
    MistralAdapter,
    OpenAIAdapter,
    OpenAICompatibleAdapter,
)

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    cls.family: cls
    for cls in (
        OpenAIAdapter,
        OpenAICompatibleAdapter,
        MistralAdapter,
        AzureOpenAIAdapter,
        AzureAIFoundryAdapter,
        AnthropicAdapter,
        GeminiAdapter,
        BedrockAdapter,
    )
}


def wire_format(family: str) -> str:
    """The wire format a provider family speaks: providers of one format can stand in for
    each other (failover), the gateway mapping paths and models between them."""
    return ADAPTERS.get(family, OpenAICompatibleAdapter).wire_format


def adapter_for(provider: dict) -> ProviderAdapter:
    """The adapter for a provider snapshot; unknown families relay as OpenAI-compatible."""
    return ADAPTERS.get(provider.get("adapter", ""), OpenAICompatibleAdapter)(provider)


__all__ = ["ADAPTERS", "ProviderAdapter", "adapter_for", "neutral_error_body", "wire_format"]
