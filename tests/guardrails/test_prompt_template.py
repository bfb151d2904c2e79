import pytest

from core.errors import ValidationFailed
from guardrails.engine import intervention_body
from guardrails.services import validated_params
from tests.guardrails.conftest import chain_of, chat, compiled, request_error, request_verdict

pytestmark = pytest.mark.anyio

NAME = "prompt-template"
TEMPLATES = {
    "templates": [
        {"name": "translate", "template": "Translate from [[from]] to [[to]]: [[text]]"},
        {"name": "summarize", "template": "Summarize in [[n]] words."},
    ]
}


def test_defaults_follow_the_reference():
    _, params = validated_params(NAME, TEMPLATES)
    assert params["jsonPath"] == ""
    assert params["onMissingTemplate"] == "error"
    assert params["onUnresolvedPlaceholder"] == "keep"


@pytest.mark.parametrize(
    "params",
    [
        {"templates": []},
        {"templates": [{"name": "bad name", "template": "x"}]},
        {"templates": [{"name": "a", "template": "x"}, {"name": "a", "template": "y"}]},
        {**TEMPLATES, "onMissingTemplate": "ignore"},
    ],
)
def test_invalid_parameters_are_rejected(params):
    with pytest.raises(ValidationFailed):
        validated_params(NAME, params)


async def test_a_template_reference_is_replaced_by_the_rendered_template():
    body = chat("template://translate?from=English&to=French&text=Good%20morning")
    verdict = await request_verdict(compiled(NAME, TEMPLATES), body)
    assert body["messages"][0]["content"] == "Translate from English to French: Good morning"
    assert verdict.action == "modified"


async def test_a_reference_inside_other_text_is_replaced_in_place():
    body = chat("Please: template://summarize?n=10 Thanks.")
    await request_verdict(compiled(NAME, TEMPLATES), body)
    assert body["messages"][0]["content"] == "Please: Summarize in 10 words. Thanks."


async def test_a_prompt_without_a_reference_is_left_alone():
    assert await request_verdict(compiled(NAME, TEMPLATES), chat("hello")) is None


async def test_an_unknown_template_is_a_400_template_error():
    body = await request_error(NAME, TEMPLATES, chat("template://poem?x=1"))
    assert body == {"type": "PROMPT_TEMPLATE_ERROR", "message": "Template 'poem' not found."}


async def test_an_unknown_template_passes_through_when_configured():
    params = {**TEMPLATES, "onMissingTemplate": "passthrough"}
    body = chat("template://poem?x=1")
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"][0]["content"] == "template://poem?x=1"


async def test_unresolved_placeholders_are_kept_by_default():
    body = chat("template://summarize")
    await request_verdict(compiled(NAME, TEMPLATES), body)
    assert body["messages"][0]["content"] == "Summarize in [[n]] words."


async def test_unresolved_placeholders_can_be_emptied():
    body = chat("template://summarize")
    await request_verdict(compiled(NAME, {**TEMPLATES, "onUnresolvedPlaceholder": "empty"}), body)
    assert body["messages"][0]["content"] == "Summarize in  words."


async def test_unresolved_placeholders_can_be_an_error():
    params = {**TEMPLATES, "onUnresolvedPlaceholder": "error"}
    result = await chain_of((NAME, params)).run_request(chat("template://translate?to=French"), {})
    assert result.intervention.status == 400
    assert intervention_body(result.intervention)["message"] == (
        "Unresolved placeholders in template 'translate': from, text."
    )


async def test_a_json_path_limits_where_references_are_resolved():
    params = {**TEMPLATES, "jsonPath": "$.messages[-1].content"}
    body = {
        "messages": [
            {"role": "system", "content": "template://summarize?n=1"},
            {"role": "user", "content": "template://summarize?n=2"},
        ]
    }
    await request_verdict(compiled(NAME, params), body)
    assert [m["content"] for m in body["messages"]] == [
        "template://summarize?n=1",
        "Summarize in 2 words.",
    ]


async def test_a_missing_json_path_is_a_400_template_error():
    params = {**TEMPLATES, "jsonPath": "$.prompt"}
    body = await request_error(NAME, params, chat("x"))
    assert body["type"] == "PROMPT_TEMPLATE_ERROR"
