"""Guardrails on the invoke endpoint, driven by the official OpenAI SDK."""

import time

import openai
import pytest

from tests.gateway.guardrail_world import (
    MODEL,
    Scenario,
    chat,
    echo,
    on_proxy,
    reply,
    serve,
    words,
)

PII = {"email": True}


@pytest.fixture(scope="module")
def guarded(committed, fake_upstream, start_gateway):
    return serve(
        start_gateway,
        fake_upstream.url,
        "oai",
        {
            "word-count": Scenario(
                on_proxy("word-count-guardrail", {"request": {"min": 0, "max": 5}})
            ),
            "word-count-assessed": Scenario(
                on_proxy(
                    "word-count-guardrail",
                    {"request": {"min": 0, "max": 5, "showAssessment": True}},
                )
            ),
            "sentence-response": Scenario(
                on_proxy(
                    "sentence-count-guardrail",
                    {"response": {"enabled": True, "min": 0, "max": 1}},
                )
            ),
            "length-request": Scenario(
                on_proxy("content-length-guardrail", {"request": {"min": 0, "max": 20}})
            ),
            "regex-request": Scenario(
                on_proxy("regex-guardrail", {"request": {"regex": "^(a+)+$"}})
            ),
            "regex-response": Scenario(
                on_proxy(
                    "regex-guardrail",
                    {"response": {"enabled": True, "regex": "(?i)forbidden", "invert": True}},
                )
            ),
            "json-response": Scenario(
                on_proxy(
                    "json-schema-guardrail",
                    {"response": {"enabled": True, "schema": {"type": "object"}}},
                )
            ),
            "url-response": Scenario(
                on_proxy(
                    "url-guardrail",
                    {"response": {"enabled": True, "timeout": 2000}},
                )
            ),
            "pii": Scenario(on_proxy("pii-masking-regex", PII)),
            "decorator": Scenario(
                on_proxy("prompt-decorator", {"promptDecoratorConfig": {"text": "Answer briefly."}})
            ),
            "template": Scenario(
                on_proxy(
                    "prompt-template",
                    {"templates": [{"name": "greet", "template": "Say hello to [[name]]."}]},
                )
            ),
        },
    )


def create(sdk: openai.OpenAI, text: str, **kwargs):
    return sdk.chat.completions.create(model=MODEL, messages=chat(text), **kwargs)


def test_word_count_request_block_raises_unprocessable_entity(guarded, upstream):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(guarded.openai("word-count"), words(9))
    assert caught.value.status_code == 422
    assert "word-count-guardrail intervened on the request" in caught.value.message
    error = caught.value.body
    assert error["code"] == "GUARDRAIL_INTERVENED"
    assert error["action"] == "GUARDRAIL_INTERVENED"
    assert error["interveningGuardrail"] == "word-count-guardrail"
    assert error["direction"] == "REQUEST"
    assert error["actionReason"] == "Violation of applied word count constraints detected."
    assert "assessments" not in error
    assert upstream.received() == []


def test_request_within_the_limit_reaches_the_upstream(guarded, upstream):
    completion = create(guarded.openai("word-count"), "hello there")
    assert completion.choices[0].message.content == "echo: hello there"
    assert len(upstream.received()) == 1


def test_assessment_is_shown_when_the_guardrail_asks_for_it(guarded, upstream):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(guarded.openai("word-count-assessed"), words(9))
    assert "Expected between 0 and 5 words" in caught.value.body["assessments"]


def test_content_length_request_block(guarded, upstream):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(guarded.openai("length-request"), "x" * 21)
    assert caught.value.body["interveningGuardrail"] == "content-length-guardrail"


def test_regex_on_the_response_replaces_it_with_a_422(guarded, upstream):
    sdk = guarded.openai("regex-response", **reply("This is Forbidden text."))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(sdk, "hi")
    assert caught.value.body["direction"] == "RESPONSE"
    assert caught.value.body["interveningGuardrail"] == "regex-guardrail"
    assert "intervened on the response" in caught.value.message


def test_clean_response_passes_the_response_regex(guarded, upstream):
    completion = create(guarded.openai("regex-response", **reply("All fine.")), "hi")
    assert completion.choices[0].message.content == "All fine."


def test_sentence_count_on_the_response(guarded, upstream):
    sdk = guarded.openai("sentence-response", **reply("One. Two. Three."))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(sdk, "hi")
    assert caught.value.body["interveningGuardrail"] == "sentence-count-guardrail"


def test_json_schema_on_the_response_accepts_json_and_blocks_prose(guarded, upstream):
    ok = create(guarded.openai("json-response", **reply('{"answer": 42}')), "hi")
    assert ok.choices[0].message.content == '{"answer": 42}'
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(guarded.openai("json-response", **reply("Sure, here it is")), "hi")
    assert caught.value.body["interveningGuardrail"] == "json-schema-guardrail"


def test_unreachable_url_in_the_response_is_blocked(guarded, upstream):
    sdk = guarded.openai("url-response", **reply("See http://127.0.0.1:9/nothing for more."))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        create(sdk, "hi")
    assert caught.value.body["interveningGuardrail"] == "url-guardrail"


def test_pii_is_masked_upstream_and_restored_in_the_answer(guarded, upstream):
    text = "Mail jane.doe@example.com about it"
    completion = create(guarded.openai("pii", **echo()), text)
    (received,) = upstream.received()
    assert "jane.doe@example.com" not in received["body"]
    assert "Mail [EMAIL_0000] about it" in received["body"]
    assert completion.choices[0].message.content == text


def test_prompt_decorator_is_visible_at_the_upstream(guarded, upstream):
    create(guarded.openai("decorator"), "What is RE2?")
    (received,) = upstream.received()
    assert '"content":"Answer briefly. What is RE2?"' in received["body"]


def test_prompt_template_is_rendered_at_the_upstream(guarded, upstream):
    create(guarded.openai("template"), "template://greet?name=Ada")
    (received,) = upstream.received()
    assert '"content":"Say hello to Ada."' in received["body"]


def test_unknown_prompt_template_raises_bad_request(guarded, upstream):
    with pytest.raises(openai.BadRequestError) as caught:
        create(guarded.openai("template"), "template://nope")
    assert caught.value.body["code"] == "PROMPT_TEMPLATE_ERROR"
    assert caught.value.body["message"] == "Template 'nope' not found."
    assert upstream.received() == []


def test_pathological_regex_on_a_long_crafted_prompt_returns_promptly(guarded, upstream):
    # (a+)+$ against "aaaa...!" takes exponential time in a backtracking engine.
    started = time.monotonic()
    with pytest.raises(openai.UnprocessableEntityError):
        create(guarded.openai("regex-request"), "a" * 100_000 + "!")
    assert time.monotonic() - started < 2.0
