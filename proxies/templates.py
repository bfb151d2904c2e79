"""Built-in provider templates.

A template describes a vendor once: where its API lives, how the upstream credential is sent,
which header its SDK uses for the caller's key, where model and token usage are found, and the
resources (method + path) it offers. Providers copy these values when created. Built-ins are kept
in code and synced into the database after every migrate so upgrades reach existing installs.
"""

from typing import Any

from proxies.models import ProviderTemplate

OPENAI_USAGE = {
    "prompt_tokens": "$.usage.prompt_tokens",
    "completion_tokens": "$.usage.completion_tokens",
    "total_tokens": "$.usage.total_tokens",
}
PAYLOAD_MODEL = {"source": "payload", "path": "$.model"}


def _resources(method: str, *paths: str) -> list[dict[str, str]]:
    return [{"method": method, "path": p} for p in paths]


OPENAI_RESOURCES = [
    *_resources("POST", "/chat/completions", "/completions", "/embeddings", "/responses"),
    *_resources("GET", "/models", "/models/{model}"),
    *_resources(
        "POST", "/images/generations", "/audio/speech", "/audio/transcriptions", "/moderations"
    ),
]

BUILTIN_TEMPLATES: list[dict[str, Any]] = [
    {
        "slug": "openai",
        "display_name": "OpenAI",
        "adapter": "openai",
        "upstream_url": "https://api.openai.com/v1",
        "upstream_url_editable": True,
        "upstream_auth_header": "Authorization",
        "upstream_auth_prefix": "Bearer ",
        "inbound_key_header": "Authorization",
        "inbound_key_prefix": "Bearer ",
        "model_location": PAYLOAD_MODEL,
        "usage_paths": OPENAI_USAGE,
        "resources": OPENAI_RESOURCES,
    },
    {
        "slug": "azure-openai",
        "display_name": "Azure OpenAI",
        "adapter": "azure-openai",
        "upstream_url": "",
        "upstream_url_editable": True,
        "upstream_auth_header": "api-key",
        "upstream_auth_prefix": "",
        "inbound_key_header": "api-key",
        "inbound_key_prefix": "",
        "model_location": PAYLOAD_MODEL,
        "usage_paths": OPENAI_USAGE,
        "resources": [
            *_resources(
                "POST",
                "/openai/deployments/{deployment}/chat/completions",
                "/openai/deployments/{deployment}/completions",
                "/openai/deployments/{deployment}/embeddings",
                "/openai/v1/chat/completions",
                "/openai/v1/embeddings",
                "/openai/v1/responses",
                "/openai/responses",
            ),
            *_resources("GET", "/openai/models", "/openai/v1/models"),
        ],
    },
    {
        "slug": "azure-ai-foundry",
        "display_name": "Azure AI Foundry",
        "adapter": "azure-ai-foundry",
        "upstream_url": "",
        "upstream_url_editable": True,
        "upstream_auth_header": "api-key",
        "upstream_auth_prefix": "",
        "inbound_key_header": "api-key",
        "inbound_key_prefix": "",
        "model_location": PAYLOAD_MODEL,
        "usage_paths": OPENAI_USAGE,
        "resources": [
            *_resources(
                "POST",
                "/chat/completions",
                "/embeddings",
                "/responses",
                "/openai/deployments/{deployment}/chat/completions",
            ),
            *_resources("GET", "/info", "/models"),
        ],
    },
    {
        "slug": "anthropic",
        "display_name": "Anthropic",
        "adapter": "anthropic",
        "upstream_url": "https://api.anthropic.com",
        "upstream_url_editable": True,
        "upstream_auth_header": "x-api-key",
        "upstream_auth_prefix": "",
        "inbound_key_header": "x-api-key",
        "inbound_key_prefix": "",
        "model_location": PAYLOAD_MODEL,
        "usage_paths": {
            "prompt_tokens": "$.usage.input_tokens",
            "completion_tokens": "$.usage.output_tokens",
            "total_tokens": "",
        },
        "resources": [
            *_resources(
                "POST", "/v1/messages", "/v1/messages/count_tokens", "/v1/messages/batches"
            ),
            *_resources("GET", "/v1/models", "/v1/models/{model}", "/v1/messages/batches/{batch}"),
        ],
    },
    {
        "slug": "gemini",
        "display_name": "Gemini",
        "adapter": "gemini",
        "upstream_url": "https://generativelanguage.googleapis.com",
        "upstream_url_editable": True,
        "upstream_auth_header": "x-goog-api-key",
        "upstream_auth_prefix": "",
        "inbound_key_header": "x-goog-api-key",
        "inbound_key_prefix": "",
        "model_location": {"source": "path", "pattern": r"models/([A-Za-z0-9.\-]+)"},
        "usage_paths": {
            "prompt_tokens": "$.usageMetadata.promptTokenCount",
            "completion_tokens": "$.usageMetadata.candidatesTokenCount",
            "total_tokens": "$.usageMetadata.totalTokenCount",
        },
        "resources": [
            *_resources(
                "POST",
                *(
                    f"/{version}/models/{{model}}:{method}"
                    for version in ("v1", "v1beta")
                    for method in (
                        "generateContent",
                        "streamGenerateContent",
                        "countTokens",
                        "embedContent",
                    )
                ),
                "/v1beta/openai/chat/completions",
                "/v1beta/openai/embeddings",
            ),
            *_resources(
                "GET",
                "/v1/models",
                "/v1/models/{model}",
                "/v1beta/models",
                "/v1beta/models/{model}",
            ),
        ],
    },
    {
        "slug": "mistral",
        "display_name": "Mistral",
        "adapter": "mistral",
        "upstream_url": "https://api.mistral.ai",
        "upstream_url_editable": True,
        "upstream_auth_header": "Authorization",
        "upstream_auth_prefix": "Bearer ",
        "inbound_key_header": "Authorization",
        "inbound_key_prefix": "Bearer ",
        "model_location": PAYLOAD_MODEL,
        "usage_paths": OPENAI_USAGE,
        "resources": [
            *_resources(
                "POST",
                "/v1/chat/completions",
                "/v1/fim/completions",
                "/v1/embeddings",
                "/v1/moderations",
            ),
            *_resources("GET", "/v1/models", "/v1/models/{model}"),
        ],
    },
    {
        "slug": "aws-bedrock",
        "display_name": "AWS Bedrock",
        "adapter": "aws-bedrock",
        "upstream_url": "",
        "upstream_url_editable": True,
        "upstream_auth_header": "Authorization",
        "upstream_auth_prefix": "Bearer ",
        "inbound_key_header": "Authorization",
        "inbound_key_prefix": "Bearer ",
        "model_location": {"source": "path", "pattern": r"model/([A-Za-z0-9.:\-]+)/"},
        "usage_paths": {
            "prompt_tokens": "$.usage.inputTokens",
            "completion_tokens": "$.usage.outputTokens",
            "total_tokens": "$.usage.totalTokens",
        },
        "resources": _resources(
            "POST",
            "/model/{modelId}/converse",
            "/model/{modelId}/converse-stream",
            "/model/{modelId}/invoke",
            "/model/{modelId}/invoke-with-response-stream",
        ),
    },
    {
        "slug": "openai-compatible",
        "display_name": "OpenAI-compatible (vLLM, Ollama, ...)",
        "adapter": "openai-compatible",
        "upstream_url": "",
        "upstream_url_editable": True,
        "upstream_auth_header": "Authorization",
        "upstream_auth_prefix": "Bearer ",
        "inbound_key_header": "Authorization",
        "inbound_key_prefix": "Bearer ",
        "model_location": PAYLOAD_MODEL,
        "usage_paths": OPENAI_USAGE,
        "resources": [
            *_resources("POST", "/chat/completions", "/completions", "/embeddings"),
            *_resources("GET", "/models"),
        ],
    },
]


def sync_builtin_templates(**kwargs: Any) -> None:
    """Create or refresh the built-in templates (connected to ``post_migrate``)."""
    for definition in BUILTIN_TEMPLATES:
        values = {k: v for k, v in definition.items() if k != "slug"}
        ProviderTemplate.objects.update_or_create(
            slug=definition["slug"], defaults={**values, "builtin": True}
        )
