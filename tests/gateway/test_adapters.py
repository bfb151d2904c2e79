"""Provider adapters: pure functions over parsed bodies, tested without a server."""

import orjson
import pytest

from gateways.dataplane.adapters import ADAPTERS, adapter_for
from gateways.dataplane.paths import canonical_path
from gateways.dataplane.routes import ResourceMatcher
from proxies.templates import BUILTIN_TEMPLATES


def adapter(slug: str):
    template = next(t for t in BUILTIN_TEMPLATES if t["slug"] == slug)
    return adapter_for(
        {
            "adapter": template["adapter"],
            "usage_paths": template["usage_paths"],
            "model_location": template["model_location"],
        }
    )


def test_every_template_has_an_adapter():
    assert {t["adapter"] for t in BUILTIN_TEMPLATES} <= set(ADAPTERS)


def test_openai_stream_asks_the_upstream_for_usage():
    body = {"model": "m", "stream": True, "stream_options": {"foo": 1}}
    assert adapter("openai").prepare_body("/chat/completions", body)
    assert body["stream_options"] == {"foo": 1, "include_usage": True}


def test_openai_plain_request_is_left_alone():
    body = {"model": "m"}
    assert not adapter("openai").prepare_body("/chat/completions", body)
    assert body == {"model": "m"}


def test_mistral_stream_is_left_alone():
    assert not adapter("mistral").prepare_body("/v1/chat/completions", {"stream": True})


def test_openai_usage_comes_from_the_usage_object():
    body = {"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    assert adapter("openai").extract_usage(body) == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }


def test_anthropic_stream_usage_merges_start_and_delta_events():
    anthropic = adapter("anthropic")
    usage = {}
    anthropic.usage_from_sse_event(
        {"type": "message_start", "message": {"usage": {"input_tokens": 11, "output_tokens": 1}}},
        usage,
    )
    anthropic.usage_from_sse_event({"type": "message_delta", "usage": {"output_tokens": 5}}, usage)
    assert usage == {"prompt_tokens": 11, "completion_tokens": 5}


def test_gemini_usage_comes_from_usage_metadata():
    body = {
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 3, "totalTokenCount": 5}
    }
    assert adapter("gemini").extract_usage(body)["total_tokens"] == 5


def test_gemini_model_comes_from_the_path():
    resource = "/v1beta/models/gemini-2.0-flash:generateContent"
    assert adapter("gemini").request_model(resource, {}) == "gemini-2.0-flash"


def test_bedrock_model_id_is_read_from_the_encoded_path():
    bedrock = adapter("aws-bedrock")
    path = canonical_path(
        b"/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", bedrock.opaque_segment_after
    )
    resource, _ = path.resource(())
    assert bedrock.request_model(resource, {}, path.opaque) == (
        "anthropic.claude-3-haiku-20240307-v1:0"
    )


def test_bedrock_converse_usage_is_extracted():
    body = {"usage": {"inputTokens": 4, "outputTokens": 6, "totalTokens": 10}}
    assert adapter("aws-bedrock").extract_usage(body)["total_tokens"] == 10


def test_bedrock_sends_its_api_key_as_a_bearer_token():
    assert adapter("aws-bedrock").auth_headers("Authorization", "Bearer ", "abc") == [
        ("Authorization", "Bearer abc")
    ]


def test_azure_model_falls_back_to_the_deployment_in_the_path():
    resource = "/openai/deployments/gpt4o-prod/chat/completions"
    assert adapter("azure-openai").request_model(resource, {}) == "gpt4o-prod"


def test_azure_keeps_the_api_version_query():
    url = adapter("azure-openai").upstream_url(
        "https://x.openai.azure.com", "/openai/deployments/d/chat/completions", "api-version=1"
    )
    assert str(url) == (
        "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1"
    )


@pytest.mark.parametrize("slug", ["openai", "mistral", "openai-compatible", "azure-openai"])
def test_openai_style_errors_carry_message_type_and_code(slug):
    error = orjson.loads(adapter(slug).error_body(401, "invalid_api_key", "Invalid API key."))
    assert error == {
        "error": {
            "message": "Invalid API key.",
            "type": "authentication_error",
            "code": "invalid_api_key",
        }
    }


def test_anthropic_errors_use_its_envelope():
    error = orjson.loads(adapter("anthropic").error_body(404, "not_found", "No such thing."))
    assert error == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "No such thing."},
    }


def test_resource_parameters_match_exactly_one_segment():
    matcher = ResourceMatcher([{"method": "GET", "path": "/models/{model}"}])
    assert matcher.matches("GET", "/models/gpt-4o")
    assert not matcher.matches("GET", "/models/gpt-4o/extra")
    assert not matcher.matches("POST", "/models/gpt-4o")


def test_wildcard_method_matches_any_method():
    matcher = ResourceMatcher([{"method": "*", "path": "/embeddings"}])
    assert matcher.matches("POST", "/embeddings")


@pytest.mark.parametrize("count", [-5, True, 2.5, "7"])
def test_a_token_count_that_is_not_a_whole_non_negative_number_is_not_read(count):
    body = {"usage": {"prompt_tokens": count, "completion_tokens": 4, "total_tokens": 7}}
    assert "prompt_tokens" not in adapter("openai").extract_usage(body)


def test_a_stream_usage_option_the_caller_set_is_left_as_it_is():
    body = {"stream": True, "stream_options": {"include_usage": False}}
    assert not adapter("openai").prepare_body("/chat/completions", body)
    assert body["stream_options"] == {"include_usage": False}


def test_other_stream_options_of_the_caller_are_kept_beside_usage():
    body = {"stream": True, "stream_options": {"include_obfuscation": False}}
    assert adapter("openai").prepare_body("/chat/completions", body)
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def test_a_provider_that_says_no_gets_no_stream_usage_option():
    template = next(t for t in BUILTIN_TEMPLATES if t["slug"] == "openai-compatible")
    quiet = adapter_for({**template, "stream_usage": False})
    body = {"stream": True}
    assert not quiet.prepare_body("/chat/completions", body)
    assert "stream_options" not in body
