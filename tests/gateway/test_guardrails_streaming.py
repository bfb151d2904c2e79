"""Response guardrails on streamed answers: only released text reaches the client, a
violation ends the stream with an error event, and the failing text is never delivered."""

import openai
import orjson
import pytest

from tests.gateway.guardrail_world import (
    MODEL,
    Scenario,
    chat,
    echo,
    on_proxy,
    reply,
    sdk_stream_text,
    serve,
    words,
)


def response(policy_params: dict) -> dict:
    return {"response": {"enabled": True, **policy_params}}


@pytest.fixture(scope="module")
def guarded(committed, fake_upstream, start_gateway):
    return serve(
        start_gateway,
        fake_upstream.url,
        "sse",
        {
            "plain": Scenario(on_proxy("word-count-guardrail", {"request": {"max": 100}})),
            "words": Scenario(on_proxy("word-count-guardrail", response({"min": 0, "max": 5}))),
            "sentences": Scenario(
                on_proxy("sentence-count-guardrail", response({"min": 0, "max": 1}))
            ),
            "length": Scenario(
                on_proxy("content-length-guardrail", response({"min": 0, "max": 10}))
            ),
            "blocklist": Scenario(
                on_proxy("regex-guardrail", response({"regex": "forbidden", "invert": True}))
            ),
            "allowlist": Scenario(on_proxy("regex-guardrail", response({"regex": "DONE\\."}))),
            "json": Scenario(
                on_proxy("json-schema-guardrail", response({"schema": {"type": "object"}}))
            ),
            "url": Scenario(on_proxy("url-guardrail", response({"timeout": 2000}))),
            "pii": Scenario(on_proxy("pii-masking-regex", {"email": True})),
        },
    )


def stream(guarded, name: str, text: str = "hi", **headers):
    sdk = guarded.openai(name, **headers)
    return sdk.chat.completions.create(model=MODEL, messages=chat(text), stream=True)


def collect(chunks) -> tuple[str, Exception | None]:
    """The text the client received before the stream ended, and the error that ended it."""
    parts = []
    try:
        for chunk in chunks:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
    except openai.APIError as exc:
        return "".join(parts), exc
    return "".join(parts), None


def error_event(raw: bytes) -> dict:
    last = raw.rstrip().split(b"\n")[-1]
    assert last.startswith(b"data: ")
    return orjson.loads(last[6:])["error"]


def test_stream_without_response_guardrails_is_relayed_as_sent(guarded, upstream):
    raw = guarded.stream_raw("plain", {"model": MODEL, "messages": chat("hi")})
    assert raw.count(b"data: ") == 6  # three chunks, finish, usage, [DONE]
    assert raw.endswith(b"data: [DONE]\n\n")


def test_word_count_violation_mid_stream_ends_with_an_error_event(guarded, upstream):
    text, error = collect(stream(guarded, "words", **reply(words(12), 3)))
    assert isinstance(error, openai.APIError)
    assert "word-count-guardrail intervened on the response" in error.message
    assert len(text.split()) <= 5
    assert "w6" not in text


def test_error_event_carries_the_guardrail_fields(guarded, upstream):
    raw = guarded.stream_raw(
        "words", {"model": MODEL, "messages": chat("hi")}, **reply(words(12), 3)
    )
    error = error_event(raw)
    assert error["interveningGuardrail"] == "word-count-guardrail"
    assert error["direction"] == "RESPONSE"
    assert error["code"] == "GUARDRAIL_INTERVENED"
    assert b"[DONE]" not in raw


def test_short_stream_passes_the_word_count(guarded, upstream):
    text, error = collect(stream(guarded, "words", **reply("one two three", 2)))
    assert (text, error) == ("one two three", None)


def test_sentence_count_violation_mid_stream(guarded, upstream):
    text, error = collect(stream(guarded, "sentences", **reply("First. Second. Third.", 4)))
    assert error is not None
    assert "Third" not in text


def test_content_length_violation_mid_stream(guarded, upstream):
    text, error = collect(stream(guarded, "length", **reply("0123456789ABCDEF", 4)))
    assert error is not None
    assert len(text.encode()) <= 10


def test_blocklisted_text_split_across_chunks_is_never_delivered(guarded, upstream):
    text, error = collect(
        stream(guarded, "blocklist", **reply("all good so far, then forbidden stuff", 3))
    )
    assert error is not None
    assert "forb" not in text
    assert "stuff" not in text


def test_clean_stream_passes_the_blocklist_in_full(guarded, upstream):
    answer = "nothing to see here " * 10
    text, error = collect(stream(guarded, "blocklist", **reply(answer, 7)))
    assert (text, error) == (answer, None)


def test_allowlist_releases_the_text_once_the_pattern_matched(guarded, upstream):
    text, error = collect(stream(guarded, "allowlist", **reply("All DONE. Bye", 3)))
    assert (text, error) == ("All DONE. Bye", None)


def test_allowlist_never_matched_withholds_everything(guarded, upstream):
    text, error = collect(stream(guarded, "allowlist", **reply("never finished", 3)))
    assert error is not None
    assert text == ""


def test_json_schema_judges_the_whole_stream_at_the_end(guarded, upstream):
    text, error = collect(stream(guarded, "json", **reply('{"a": [1, 2, 3]}', 4)))
    assert (text, error) == ('{"a": [1, 2, 3]}', None)
    text, error = collect(stream(guarded, "json", **reply("not json at all", 4)))
    assert error is not None
    assert text == ""


def test_unreachable_url_in_a_stream_is_blocked(guarded, upstream):
    text, error = collect(
        stream(guarded, "url", **reply("Read http://127.0.0.1:9/x now please", 5))
    )
    assert error is not None
    assert "127.0.0.1" not in text


def test_pii_placeholder_split_across_chunks_is_restored(guarded, upstream):
    prompt = "Contact jane.doe@example.com or john@example.org soon"
    text = sdk_stream_text(stream(guarded, "pii", prompt, **echo(3)))
    body = upstream.received()[0]["body"]
    assert "[EMAIL_0000]" in body and "[EMAIL_0001]" in body
    assert "example.com" not in body
    assert text == prompt


def test_placeholders_are_restored_when_the_whole_stream_arrives_in_one_read(guarded, upstream):
    prompt = "Contact jane.doe@example.com or john@example.org soon"
    headers = {**echo(3), "x-fake-burst": "1"}
    raw = guarded.stream_raw("pii", {"model": MODEL, "messages": chat(prompt)}, **headers)
    events = [e for e in raw.split(b"\n\n") if e]
    text = "".join(
        orjson.loads(e[6:])["choices"][0]["delta"].get("content") or ""
        for e in events
        if e.startswith(b"data: {") and orjson.loads(e[6:])["choices"]
    )
    assert text == prompt
    assert events[-1] == b"data: [DONE]"
    assert b'"usage"' in events[-2]


def test_guarded_stream_keeps_usage_and_done_at_the_end(guarded, upstream):
    raw = guarded.stream_raw("pii", {"model": MODEL, "messages": chat("a b c")}, **echo(1))
    events = [e for e in raw.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert b'"usage"' in events[-2]
    assert b'"finish_reason":"stop"' in events[-3]
