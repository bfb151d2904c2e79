import pytest

from core.errors import ValidationFailed
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, compiled, request_error, request_verdict

pytestmark = pytest.mark.anyio

NAME = "prompt-decorator"


def test_text_decoration_is_accepted():
    _, params = validated_params(NAME, {"promptDecoratorConfig": {"text": "Be brief."}})
    assert params["append"] is False
    assert params["jsonPath"] == ""


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"text": "a", "messages": [{"role": "system", "content": "b"}]},
        {"messages": [{"role": "wizard", "content": "b"}]},
        {"messages": []},
    ],
)
def test_a_decoration_needs_exactly_one_of_text_or_messages(config):
    with pytest.raises(ValidationFailed):
        validated_params(NAME, {"promptDecoratorConfig": config})


async def test_text_is_prepended_to_the_last_message_with_a_space():
    body = chat("What is 2+2?")
    verdict = await request_verdict(
        compiled(NAME, {"promptDecoratorConfig": {"text": "Be brief."}}), body
    )
    assert body["messages"][0]["content"] == "Be brief. What is 2+2?"
    assert verdict.action == "modified"


async def test_text_can_be_appended():
    body = chat("What is 2+2?")
    params = {"promptDecoratorConfig": {"text": "Answer in French."}, "append": True}
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"][0]["content"] == "What is 2+2? Answer in French."


async def test_messages_are_prepended_to_the_conversation():
    body = chat("hi")
    params = {
        "promptDecoratorConfig": {"messages": [{"role": "system", "content": "You are terse."}]}
    }
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
    ]


async def test_messages_can_be_appended():
    body = chat("hi")
    params = {
        "promptDecoratorConfig": {"messages": [{"role": "user", "content": "Reply in JSON."}]},
        "append": True,
    }
    await request_verdict(compiled(NAME, params), body)
    assert body["messages"][-1] == {"role": "user", "content": "Reply in JSON."}


async def test_text_is_added_as_a_part_to_content_parts():
    body = chat([{"type": "text", "text": "hi"}])
    await request_verdict(compiled(NAME, {"promptDecoratorConfig": {"text": "Be brief."}}), body)
    assert body["messages"][0]["content"][0] == {"type": "text", "text": "Be brief."}


async def test_a_missing_json_path_is_a_400_decorator_error():
    params = {"promptDecoratorConfig": {"text": "x"}}
    body = await request_error(NAME, params, {"prompt": "hi"})
    assert body == {
        "type": "PROMPT_DECORATOR_ERROR",
        "message": "No value found at JSONPath '$.messages[-1].content'.",
    }


def test_a_decoration_with_both_text_and_messages_says_which_to_choose():
    config = {"text": "a", "messages": [{"role": "system", "content": "b"}]}
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {"promptDecoratorConfig": config})
    assert exc.value.errors[0]["message"] == "Provide exactly one of: text, messages."
