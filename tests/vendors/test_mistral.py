"""The Mistral template driven by the official ``mistralai`` SDK, which runs in the client
virtualenv (its ``jsonpath`` dependency shadows the app's): chat plain and streamed, and
embeddings."""

import pytest

from tests.vendors.conftest import (
    assert_upstream_auth,
    deploy_proxies,
    run_client,
    template_copy,
    the_request,
)

CREDENTIAL = "mistral-upstream-key"
MODEL = "mistral-small-latest"


@pytest.fixture(scope="module")
def mistral(committed, fake_upstream, start_gateway):
    # The fake serves Mistral under /mistral, since its paths are OpenAI's.
    url = f"{fake_upstream.url}/mistral"
    template = template_copy("mistral", url)
    spec = {"template": template, "upstream_url": url, "credential": CREDENTIAL}
    return deploy_proxies(start_gateway, "mistral edge", mistral=spec)["mistral"]


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_chat_complete_reaches_mistral_with_the_gateway_credential(mistral, upstream, usage_row):
    answer = run_client(
        "mistral_chat_complete.py",
        server_url=mistral.url,
        api_key=mistral.key,
        model=MODEL,
        content="Hello",
    )
    assert answer["text"] == "echo: Hello"
    received = the_request(upstream)
    assert received["path"] == "/mistral/v1/chat/completions"
    assert_upstream_auth(received, "authorization", f"Bearer {CREDENTIAL}", mistral.key)
    assert tokens(usage_row(mistral.proxy)) == (10, 3, 13)


def test_chat_stream_records_the_usage_mistral_sends_unasked(mistral, upstream, usage_row):
    answer = run_client(
        "mistral_chat_stream.py",
        server_url=mistral.url,
        api_key=mistral.key,
        model=MODEL,
        content="Hello",
    )
    assert answer["text"] == "chunk0 chunk1 chunk2 "
    assert_upstream_auth(
        the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", mistral.key
    )
    row = usage_row(mistral.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)


def test_embeddings_reach_mistral_and_record_their_prompt_tokens(mistral, upstream, usage_row):
    answer = run_client(
        "mistral_embeddings.py",
        server_url=mistral.url,
        api_key=mistral.key,
        model="mistral-embed",
        inputs=["Hello"],
    )
    assert answer["embeddings"] == [[0.1, 0.2, 0.3]]
    assert_upstream_auth(
        the_request(upstream), "authorization", f"Bearer {CREDENTIAL}", mistral.key
    )
    row = usage_row(mistral.proxy)
    assert (row.prompt_tokens, row.total_tokens) == (4, 4)


def test_usage_row_carries_the_cost_from_the_price_table(mistral, upstream, usage_row):
    run_client(
        "mistral_chat_complete.py",
        server_url=mistral.url,
        api_key=mistral.key,
        model=MODEL,
        content="Hello",
    )
    # mistral-small: $0.10 per million input tokens, $0.30 per million output tokens.
    expected = (10 * 0.10 + 3 * 0.30) / 1_000_000
    assert float(usage_row(mistral.proxy).cost_usd) == pytest.approx(expected)
