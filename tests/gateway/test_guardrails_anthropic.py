"""Guardrails on Anthropic-style proxies, driven by the official Anthropic SDK."""

import anthropic
import pytest

from tests.gateway.guardrail_world import Scenario, chat, echo, on_proxy, reply, serve, words


@pytest.fixture(scope="module")
def guarded(committed, fake_upstream, start_gateway):
    return serve(
        start_gateway,
        fake_upstream.url,
        "anth",
        {
            "word-count": Scenario(
                on_proxy("word-count-guardrail", {"request": {"min": 0, "max": 5}}),
                api="anthropic",
            ),
            "regex-response": Scenario(
                # The default (OpenAI-shaped) response jsonPath reads $.content[0].text here.
                on_proxy(
                    "regex-guardrail",
                    {"response": {"enabled": True, "regex": "(?i)forbidden", "invert": True}},
                ),
                api="anthropic",
            ),
            "pii": Scenario(on_proxy("pii-masking-regex", {"email": True}), api="anthropic"),
        },
    )


def create(sdk: anthropic.Anthropic, text: str):
    return sdk.messages.create(model="claude-fake", max_tokens=64, messages=chat(text))


def test_request_block_raises_unprocessable_entity_in_anthropic_shape(guarded, upstream):
    with pytest.raises(anthropic.UnprocessableEntityError) as caught:
        create(guarded.anthropic("word-count"), words(8))
    body = caught.value.body
    assert body["type"] == "error"
    assert body["error"]["interveningGuardrail"] == "word-count-guardrail"
    assert body["error"]["direction"] == "REQUEST"
    assert body["error"]["code"] == "GUARDRAIL_INTERVENED"
    assert "intervened on the request" in body["error"]["message"]
    assert upstream.received() == []


def test_response_block_uses_the_messages_text_by_default(guarded, upstream):
    sdk = guarded.anthropic("regex-response", **reply("That is forbidden."))
    with pytest.raises(anthropic.UnprocessableEntityError) as caught:
        create(sdk, "hi")
    assert caught.value.body["error"]["direction"] == "RESPONSE"


def test_clean_response_passes(guarded, upstream):
    message = create(guarded.anthropic("regex-response", **reply("All fine.")), "hi")
    assert message.content[0].text == "All fine."


def test_streamed_violation_raises_and_withholds_the_failing_text(guarded, upstream):
    sdk = guarded.anthropic("regex-response", **reply("Safe start, then forbidden words.", 5))
    received = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        sdk.messages.stream(model="claude-fake", max_tokens=64, messages=chat("hi")) as stream,
    ):
        for text in stream.text_stream:
            received.append(text)
    assert "forbidden" not in "".join(received)
    assert caught.value.body["error"]["interveningGuardrail"] == "regex-guardrail"


def test_pii_round_trip_on_a_stream_split_across_events(guarded, upstream):
    text = "Write to jane.doe@example.com today"
    with guarded.anthropic("pii", **echo(3)).messages.stream(
        model="claude-fake", max_tokens=64, messages=chat(text)
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "[EMAIL_0000]" in upstream.received()[0]["body"]
    assert streamed == text
    assert final.content[0].text == text
    assert final.usage.output_tokens > 0


def test_pii_round_trip_on_a_plain_answer(guarded, upstream):
    text = "Write to jane.doe@example.com today"
    message = create(guarded.anthropic("pii", **echo()), text)
    assert "jane.doe@example.com" not in upstream.received()[0]["body"]
    assert message.content[0].text == text
