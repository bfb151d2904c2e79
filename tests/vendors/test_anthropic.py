"""The Anthropic template driven by the official ``anthropic`` SDK: messages plain and
streamed, prompt caching usage included."""

import anthropic
import pytest

from tests.vendors.conftest import (
    assert_upstream_auth,
    deploy_proxies,
    template_copy,
    the_request,
)

CREDENTIAL = "sk-ant-upstream-key"
MODEL = "claude-3-5-haiku-latest"
MESSAGES = [{"role": "user", "content": "Hello"}]
CACHED = {"x-fake-cached-tokens": "6", "x-fake-cache-write-tokens": "4"}
CACHE_POINT = {"type": "ephemeral"}
SYSTEM = [{"type": "text", "text": "A long, stable preamble.", "cache_control": CACHE_POINT}]


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_gateway):
    url = fake_upstream.url
    template = template_copy("anthropic", url)
    return deploy_proxies(
        start_gateway,
        "anthropic edge",
        claude={"template": template, "upstream_url": url, "credential": CREDENTIAL},
        refused={"template": template, "upstream_url": url, "credential": "invalid-key"},
    )


def client(deployed) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=deployed.url, api_key=deployed.key, max_retries=0)


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_message_reaches_anthropic_with_the_gateway_credential(proxies, upstream, usage_row):
    claude = proxies["claude"]
    message = client(claude).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert message.content[0].text == "echo: Hello"
    received = the_request(upstream)
    assert received["headers"]["anthropic-version"]
    assert_upstream_auth(received, "x-api-key", CREDENTIAL, claude.key)
    assert tokens(usage_row(claude.proxy)) == (10, 3, 13)


def test_streamed_message_records_the_usage_of_its_events(proxies, upstream, usage_row):
    claude = proxies["claude"]
    with client(claude).messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
    assert text == "chunk0 chunk1 chunk2 "
    assert_upstream_auth(the_request(upstream), "x-api-key", CREDENTIAL, claude.key)
    row = usage_row(claude.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)


def test_prompt_caching_usage_reaches_the_sdk(proxies, upstream, usage_row):
    claude = proxies["claude"]
    message = client(claude).messages.create(
        model=MODEL, max_tokens=64, system=SYSTEM, messages=MESSAGES, extra_headers=CACHED
    )
    usage = message.usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (6, 4)
    # The row's prompt counts every input token: 10 uncached, 6 read and 4 written.
    assert tokens(usage_row(claude.proxy)) == (20, 3, 23)


def test_prompt_caching_usage_of_a_stream_reaches_the_sdk(proxies, upstream, usage_row):
    claude = proxies["claude"]
    with client(claude).messages.stream(
        model=MODEL, max_tokens=64, system=SYSTEM, messages=MESSAGES, extra_headers=CACHED
    ) as stream:
        usage = stream.get_final_message().usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (6, 4)
    assert usage_row(claude.proxy).streamed is True


def test_cache_reads_reach_the_usage_row(proxies, upstream, usage_row):
    claude = proxies["claude"]
    client(claude).messages.create(
        model=MODEL, max_tokens=64, system=SYSTEM, messages=MESSAGES, extra_headers=CACHED
    )
    assert usage_row(claude.proxy).cached_tokens == 6


def test_usage_row_carries_the_cost_from_the_price_table(proxies, upstream, usage_row):
    claude = proxies["claude"]
    client(claude).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    # claude-3-5-haiku: $0.80 per million input tokens, $4 per million output tokens.
    expected = (10 * 0.80 + 3 * 4.00) / 1_000_000
    assert float(usage_row(claude.proxy).cost_usd) == pytest.approx(expected)


def test_upstream_refusing_the_credential_raises_authentication_error(proxies, upstream, usage_row):
    refused = proxies["refused"]
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(refused).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert usage_row(refused.proxy).status_code == 401
