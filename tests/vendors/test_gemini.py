"""The Gemini template driven by the official ``google-genai`` SDK: ``generate_content`` plain
and streamed, on the ``v1`` routes it calls by default and on ``v1beta``."""

import pytest
from google import genai
from google.genai import errors, types

from tests.vendors.conftest import (
    assert_upstream_auth,
    deploy_proxies,
    template_copy,
    the_request,
)

CREDENTIAL = "gemini-upstream-key"
MODEL = "gemini-2.0-flash"


@pytest.fixture(scope="module")
def proxies(committed, fake_upstream, start_gateway):
    url = fake_upstream.url
    template = template_copy("gemini", url)
    return deploy_proxies(
        start_gateway,
        "gemini edge",
        gemini={"template": template, "upstream_url": url, "credential": CREDENTIAL},
        refused={"template": template, "upstream_url": url, "credential": "invalid-key"},
    )


def client(deployed, api_version: str | None = None) -> genai.Client:
    """A client for ``deployed`` (keep it referenced: a collected client closes its
    connection pool under calls still using it)."""
    options = types.HttpOptions(base_url=deployed.url, api_version=api_version)
    return genai.Client(api_key=deployed.key, http_options=options)


def tokens(row) -> tuple:
    return row.prompt_tokens, row.completion_tokens, row.total_tokens


def test_generate_content_reaches_gemini_with_the_gateway_credential(proxies, upstream, usage_row):
    gemini = proxies["gemini"]
    sdk = client(gemini)
    response = sdk.models.generate_content(model=MODEL, contents="Hello")
    assert response.text == "echo: Hello"
    received = the_request(upstream)
    assert received["path"] == f"/v1/models/{MODEL}:generateContent"
    assert_upstream_auth(received, "x-goog-api-key", CREDENTIAL, gemini.key)
    row = usage_row(gemini.proxy)
    assert (row.model, *tokens(row)) == (MODEL, 10, 3, 13)


def test_streamed_content_records_the_usage_of_its_last_chunk(proxies, upstream, usage_row):
    gemini = proxies["gemini"]
    sdk = client(gemini)
    chunks = sdk.models.generate_content_stream(model=MODEL, contents="Hello")
    assert "".join(chunk.text for chunk in chunks) == "chunk0 chunk1 chunk2 "
    received = the_request(upstream)
    assert (received["path"], received["query"]) == (
        f"/v1/models/{MODEL}:streamGenerateContent",
        "alt=sse",
    )
    assert_upstream_auth(received, "x-goog-api-key", CREDENTIAL, gemini.key)
    row = usage_row(gemini.proxy)
    assert (row.streamed, *tokens(row)) == (True, 10, 3, 13)


def test_v1beta_routes_are_relayed_too(proxies, upstream, usage_row):
    gemini = proxies["gemini"]
    sdk = client(gemini, api_version="v1beta")
    response = sdk.models.generate_content(model=MODEL, contents="Hello")
    assert response.text == "echo: Hello"
    assert the_request(upstream)["path"] == f"/v1beta/models/{MODEL}:generateContent"
    assert tokens(usage_row(gemini.proxy)) == (10, 3, 13)


def test_cached_content_tokens_reach_the_usage_row(proxies, upstream, usage_row):
    gemini = proxies["gemini"]
    options = types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"x-fake-cached-tokens": "6"})
    )
    sdk = client(gemini)
    response = sdk.models.generate_content(model=MODEL, contents="Hello", config=options)
    assert response.usage_metadata.cached_content_token_count == 6
    assert usage_row(gemini.proxy).cached_tokens == 6


def test_usage_row_carries_the_cost_from_the_price_table(proxies, upstream, usage_row):
    gemini = proxies["gemini"]
    sdk = client(gemini)
    sdk.models.generate_content(model=MODEL, contents="Hello")
    # gemini-2.0-flash: $0.10 per million input tokens, $0.40 per million output tokens.
    expected = (10 * 0.10 + 3 * 0.40) / 1_000_000
    assert float(usage_row(gemini.proxy).cost_usd) == pytest.approx(expected)


def test_upstream_refusing_the_credential_raises_a_client_error(proxies, upstream, usage_row):
    refused = proxies["refused"]
    sdk = client(refused)
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.generate_content(model=MODEL, contents="Hello")
    assert caught.value.status == "INVALID_ARGUMENT"
    assert usage_row(refused.proxy).status_code == 400
