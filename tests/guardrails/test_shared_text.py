"""Request policies that read the same text: each sees it as the policies before it left it,
and the outcome is what each would make of the body on its own, in chain order."""

import pytest

from guardrails.catalog.counting import WordCountGuardrail
from guardrails.engine import Chain, intervention_body
from tests.guardrails.conftest import chain_of, chat

pytestmark = pytest.mark.anyio

PII = ("pii-masking-regex", {"email": True})
NO_AT = ("regex-guardrail", {"request": {"regex": "@", "invert": True}})
FEW_WORDS = ("word-count-guardrail", {"request": {"max": 3}})


async def test_a_policy_on_another_path_judges_its_own_text():
    system = ("word-count-guardrail", {"request": {"max": 3, "jsonPath": "$.messages[0].content"}})
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "one two three four"},
            {"role": "user", "content": "mail jane@example.com"},
        ],
    }
    result = await chain_of(PII, system).run_request(body, {})
    assert result.intervention.policy == "word-count-guardrail"
    assert [e["action"] for e in result.events] == ["modified", "intervened"]


async def test_a_later_policy_sees_the_text_an_earlier_one_rewrote():
    state: dict = {}
    result = await chain_of(PII, NO_AT).run_request(chat("mail jane@example.com"), state)
    assert result.intervention is None
    assert result.body["messages"][-1]["content"] == "mail [EMAIL_0000]"
    assert [e["action"] for e in result.events] == ["modified", "passed"]
    assert state["pii-masking-regex:0"].originals == {"[EMAIL_0000]": "jane@example.com"}


async def test_an_earlier_policy_sees_the_text_as_it_came():
    body = chat("mail jane@example.com")
    result = await chain_of(NO_AT, PII).run_request(body, {})
    assert result.intervention.policy == "regex-guardrail"
    assert [e["action"] for e in result.events] == ["intervened"]
    assert body["messages"][-1]["content"] == "mail jane@example.com"


async def test_only_the_text_at_the_path_changes():
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "admin@example.com"},
            {"role": "user", "content": "a@example.com and b@example.com"},
        ],
    }
    result = await chain_of(PII, FEW_WORDS).run_request(body, {})
    assert result.body["messages"][0]["content"] == "admin@example.com"
    assert result.body["messages"][1]["content"] == "[EMAIL_0000] and [EMAIL_0001]"


async def test_text_in_content_parts_is_judged_as_each_policy_reads_it():
    parts = [{"type": "text", "text": "one two"}, {"type": "text", "text": "three four"}]
    body = {"model": "m", "messages": [{"role": "user", "content": parts}]}
    result = await chain_of(NO_AT, FEW_WORDS).run_request(body, {})
    assert result.intervention.policy == "word-count-guardrail"


async def test_content_parts_are_masked_in_place():
    parts = [{"type": "text", "text": "to a@example.com"}]
    body = {"model": "m", "messages": [{"role": "user", "content": parts}]}
    result = await chain_of(PII, FEW_WORDS).run_request(body, {})
    assert result.intervention is None
    assert parts[0]["text"] == "to [EMAIL_0000]"


async def test_a_missing_path_stops_the_first_policy_with_the_reason():
    body = {"model": "m", "messages": []}
    result = await chain_of(NO_AT, PII).run_request(body, {})
    assert result.intervention.policy == "regex-guardrail"
    assert result.intervention.reason == ("No value found at JSONPath '$.messages[-1].content'.")


class BrokenCount(WordCountGuardrail):
    """A word count whose judgement fails (registered under the word count's name)."""

    def judge_text(self, section, text):
        raise RuntimeError("boom")


async def test_a_policy_that_fails_on_the_text_stops_the_request():
    broken = BrokenCount.compile({"request": {"max": 3}}, key="broken")
    chain = Chain([broken], [])
    result = await chain.run_request(chat("hi"), {})
    assert intervention_body(result.intervention) == {
        "type": "GUARDRAIL_ERROR",
        "message": "Guardrail word-count-guardrail could not be evaluated.",
    }
    assert [e["action"] for e in result.events] == ["intervened"]


async def test_a_request_without_pii_leaves_no_placeholder_map():
    state: dict = {}
    result = await chain_of(PII).run_request(chat("nothing to hide"), state)
    assert not result.modified
    assert state == {}
