"""What the adapters tell the guardrails: where text lives in each API's responses and stream
events, and the shape of an intervention in each API's errors. Pure functions, no server.
(How a guarded stream is relayed: test_guarded_streams.py.)"""

import orjson

from guardrails.engine import Intervention
from tests.gateway.test_adapters import adapter

INTERVENTION = Intervention(
    policy="regex-guardrail",
    direction="RESPONSE",
    reason="Violation of regular expression detected.",
    assessments="matched",
    show_assessment=True,
    type="REGEX_GUARDRAIL",
)


def regex_attachment(json_path: str) -> dict:
    return {
        "id": 1,
        "policy": "regex-guardrail",
        "version": "v1",
        "params": {"response": {"enabled": True, "regex": "x", "jsonPath": json_path}},
    }


def test_anthropic_reads_the_messages_text_when_the_path_is_the_default():
    adapted = adapter("anthropic").guardrail_attachment(
        regex_attachment("$.choices[0].message.content")
    )
    assert adapted["params"]["response"]["jsonPath"] == "$.content[0].text"


def test_a_path_the_user_chose_is_kept():
    attachment = regex_attachment("$.content[1].text")
    assert adapter("anthropic").guardrail_attachment(attachment) is attachment


def test_openai_keeps_the_default_path():
    attachment = regex_attachment("$.choices[0].message.content")
    assert adapter("openai").guardrail_attachment(attachment) is attachment


def test_gemini_native_stream_text_is_read_and_rewritten():
    gemini = adapter("gemini")
    event = {"candidates": [{"content": {"parts": [{"text": "hello"}], "role": "model"}}]}
    assert gemini.stream_text(event) == "hello"
    assert gemini.with_stream_text(event, "bye")["candidates"][0]["content"]["parts"][0] == {
        "text": "bye"
    }


def test_gemini_openai_route_stream_text_is_read():
    event = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
    assert adapter("gemini").stream_text(event) == "hi"


def test_events_without_text_have_none():
    assert adapter("openai").stream_text({"choices": [{"delta": {"role": "assistant"}}]}) is None
    assert adapter("anthropic").stream_text({"type": "ping"}) is None


def test_openai_intervention_body_carries_the_reference_fields():
    body = orjson.loads(adapter("openai").guardrail_error_body(INTERVENTION))
    assert body["error"] == {
        "message": "Guardrail regex-guardrail intervened on the response: "
        "Violation of regular expression detected.",
        "type": "guardrail_intervened",
        "code": "GUARDRAIL_INTERVENED",
        "guardrail_type": "REGEX_GUARDRAIL",
        "action": "GUARDRAIL_INTERVENED",
        "interveningGuardrail": "regex-guardrail",
        "direction": "RESPONSE",
        "actionReason": "Violation of regular expression detected.",
        "assessments": "matched",
    }


def test_bedrock_intervention_body_is_flat():
    body = orjson.loads(adapter("aws-bedrock").guardrail_error_body(INTERVENTION))
    assert body["code"] == "GUARDRAIL_INTERVENED"
    assert body["interveningGuardrail"] == "regex-guardrail"


def test_anthropic_stream_error_names_its_event():
    event = adapter("anthropic").sse_error_event(b"{}")
    assert event == b"event: error\ndata: {}\n\n"
