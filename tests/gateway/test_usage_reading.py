"""Each template's adapter reads token usage, cached input included, from the bodies and stream
events its vendor really sends, into one meaning: ``prompt_tokens`` every input token (read
from a prompt cache or not), ``cached_tokens`` those read from the cache, ``cache_write_tokens``
those written to it, ``completion_tokens`` every output token."""

import pytest

from gateways.dataplane.adapters import adapter_for
from gateways.dataplane.adapters.base import finish_usage
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


def streamed(slug: str, events: list) -> dict:
    usage: dict[str, int] = {}
    reader = adapter(slug)
    for event in events:
        reader.usage_from_sse_event(event, usage)
    return finish_usage(usage)


# --- OpenAI-shaped: OpenAI, Azure OpenAI, Azure AI Foundry, Mistral, OpenAI-compatible --------

CHAT_USAGE = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
CHAT_COMPLETION = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
    "usage": CHAT_USAGE,
    "system_fingerprint": "fp_eb9dce56a8",
}
RESPONSE_USAGE = {
    "input_tokens": 2036,
    "input_tokens_details": {"cached_tokens": 1920},
    "output_tokens": 87,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 2123,
}
RESPONSE = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [{"type": "message", "role": "assistant", "content": []}],
    "usage": RESPONSE_USAGE,
}
OPENAI_SHAPED = ["openai", "azure-openai", "azure-ai-foundry", "openai-compatible"]


@pytest.mark.parametrize("slug", OPENAI_SHAPED)
def test_a_chat_completion_reports_its_cached_prompt_tokens(slug):
    assert adapter(slug).extract_usage(CHAT_COMPLETION) == {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "cached_tokens": 1920,
    }


@pytest.mark.parametrize("slug", OPENAI_SHAPED)
def test_the_last_chunk_of_a_chat_stream_reports_its_cached_prompt_tokens(slug):
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": []}
    assert streamed(slug, [{**chunk, "usage": CHAT_USAGE}])["cached_tokens"] == 1920


@pytest.mark.parametrize("slug", ["openai", "azure-openai", "azure-ai-foundry"])
def test_a_responses_api_answer_reports_input_and_output_tokens(slug):
    assert adapter(slug).extract_usage(RESPONSE) == {
        "prompt_tokens": 2036,
        "completion_tokens": 87,
        "total_tokens": 2123,
        "cached_tokens": 1920,
    }


@pytest.mark.parametrize("slug", ["openai", "azure-openai", "azure-ai-foundry"])
def test_a_responses_api_stream_reports_the_usage_of_response_completed(slug):
    created = {**RESPONSE, "status": "in_progress", "usage": None}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hi"},
        {"type": "response.completed", "sequence_number": 2, "response": RESPONSE},
    ]
    assert streamed(slug, events) == {
        "prompt_tokens": 2036,
        "completion_tokens": 87,
        "total_tokens": 2123,
        "cached_tokens": 1920,
    }


def test_an_answer_without_cache_details_reports_no_cached_tokens():
    body = {"usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}
    assert "cached_tokens" not in adapter("mistral").extract_usage(body)


def test_a_negative_cached_count_is_not_read():
    usage = {**CHAT_USAGE, "prompt_tokens_details": {"cached_tokens": -4}}
    assert "cached_tokens" not in adapter("openai").extract_usage({"usage": usage})


def test_embeddings_report_prompt_tokens_only():
    body = {"object": "list", "usage": {"prompt_tokens": 8, "total_tokens": 8}}
    assert adapter("openai").extract_usage(body) == {"prompt_tokens": 8, "total_tokens": 8}


# --- Anthropic --------------------------------------------------------------------------------

MESSAGES_USAGE = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 248,
    "cache_read_input_tokens": 1800,
    "output_tokens": 503,
    "service_tier": "standard",
}


def test_an_anthropic_message_counts_cache_reads_and_writes_in_the_prompt():
    message = {"id": "msg_01", "type": "message", "usage": MESSAGES_USAGE}
    assert finish_usage(adapter("anthropic").extract_usage(message)) == {
        "prompt_tokens": 2098,
        "cached_tokens": 1800,
        "cache_write_tokens": 248,
        "completion_tokens": 503,
        "total_tokens": 2601,
    }


def test_an_anthropic_stream_counts_the_cache_of_message_start():
    start_usage = {**MESSAGES_USAGE, "output_tokens": 1}
    events = [
        {"type": "message_start", "message": {"id": "msg_01", "usage": start_usage}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 503},
        },
    ]
    assert streamed("anthropic", events) == {
        "prompt_tokens": 2098,
        "cached_tokens": 1800,
        "cache_write_tokens": 248,
        "completion_tokens": 503,
        "total_tokens": 2601,
    }


def test_an_anthropic_message_delta_repeating_the_counts_changes_nothing():
    events = [
        {"type": "message_start", "message": {"usage": {**MESSAGES_USAGE, "output_tokens": 1}}},
        {"type": "message_delta", "usage": MESSAGES_USAGE},
    ]
    assert streamed("anthropic", events)["prompt_tokens"] == 2098


def test_an_anthropic_message_delta_without_input_keeps_the_prompt():
    events = [
        {"type": "message_start", "message": {"usage": {**MESSAGES_USAGE, "output_tokens": 1}}},
        {"type": "message_delta", "usage": {"output_tokens": 503, "cache_read_input_tokens": 1800}},
    ]
    assert streamed("anthropic", events)["prompt_tokens"] == 2098


def test_an_anthropic_message_without_caching_counts_its_input():
    message = {"usage": {"input_tokens": 10, "output_tokens": 3}}
    assert adapter("anthropic").extract_usage(message) == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
    }


# --- Gemini -----------------------------------------------------------------------------------

USAGE_METADATA = {
    "promptTokenCount": 2150,
    "candidatesTokenCount": 40,
    "totalTokenCount": 2190,
    "cachedContentTokenCount": 2048,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2150}],
    "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2048}],
}


def test_gemini_cached_content_is_part_of_the_prompt():
    answer = {"candidates": [], "usageMetadata": USAGE_METADATA, "modelVersion": "gemini-2.5-pro"}
    assert adapter("gemini").extract_usage(answer) == {
        "prompt_tokens": 2150,
        "completion_tokens": 40,
        "total_tokens": 2190,
        "cached_tokens": 2048,
    }


def test_gemini_thinking_tokens_count_as_completion():
    metadata = {**USAGE_METADATA, "thoughtsTokenCount": 300, "totalTokenCount": 2490}
    usage = adapter("gemini").extract_usage({"usageMetadata": metadata})
    assert (usage["completion_tokens"], usage["total_tokens"]) == (340, 2490)


def test_gemini_tool_use_prompt_counts_as_prompt():
    metadata = {**USAGE_METADATA, "toolUsePromptTokenCount": 50, "totalTokenCount": 2240}
    assert adapter("gemini").extract_usage({"usageMetadata": metadata})["prompt_tokens"] == 2200


def test_a_gemini_stream_keeps_the_counts_of_its_last_chunk():
    first = {"usageMetadata": {"promptTokenCount": 2150, "totalTokenCount": 2150}}
    last = {"usageMetadata": USAGE_METADATA}
    assert streamed("gemini", [first, last])["completion_tokens"] == 40


def test_gemini_openai_compatible_routes_report_cached_tokens():
    assert adapter("gemini").extract_usage(CHAT_COMPLETION)["cached_tokens"] == 1920


# --- AWS Bedrock ------------------------------------------------------------------------------

CONVERSE_USAGE = {
    "inputTokens": 50,
    "outputTokens": 503,
    "totalTokens": 2601,
    "cacheReadInputTokens": 1800,
    "cacheWriteInputTokens": 248,
}


def test_a_converse_answer_counts_cache_reads_and_writes_in_the_prompt():
    answer = {"output": {"message": {}}, "stopReason": "end_turn", "usage": CONVERSE_USAGE}
    assert adapter("aws-bedrock").extract_usage(answer) == {
        "prompt_tokens": 2098,
        "completion_tokens": 503,
        "total_tokens": 2601,
        "cached_tokens": 1800,
        "cache_write_tokens": 248,
    }


def test_a_converse_stream_counts_the_cache_of_its_metadata_event():
    events = [
        {"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": CONVERSE_USAGE, "metrics": {"latencyMs": 512}}},
    ]
    assert streamed("aws-bedrock", events)["cached_tokens"] == 1800


def test_a_converse_answer_without_caching_reports_no_cached_tokens():
    usage = {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}
    assert adapter("aws-bedrock").extract_usage({"usage": usage}) == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
    }


def test_invoke_model_with_an_anthropic_model_counts_its_cache_in_the_prompt():
    body = {"id": "msg_bdrk_01", "type": "message", "usage": MESSAGES_USAGE}
    usage = adapter("aws-bedrock").extract_usage(body)
    assert (usage["prompt_tokens"], usage["cached_tokens"]) == (2098, 1800)
