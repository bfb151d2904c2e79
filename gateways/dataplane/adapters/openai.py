"""OpenAI and the APIs shaped like it: Mistral and self-hosted OpenAI-compatible servers."""

from gateways.dataplane.adapters.base import ProviderAdapter


class OpenAIAdapter(ProviderAdapter):
    family = "openai"


class OpenAICompatibleAdapter(ProviderAdapter):
    """vLLM, Ollama, LM Studio ...: OpenAI's wire format, often without a credential."""

    family = "openai-compatible"


class MistralAdapter(ProviderAdapter):
    """Mistral reports usage on the last stream chunk by itself and rejects unknown fields."""

    family = "mistral"
    requests_stream_usage = False
    operations = {"/v1/chat/completions": "chat.completions", "/v1/embeddings": "embeddings"}
