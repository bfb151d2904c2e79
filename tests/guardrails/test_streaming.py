"""Streamed responses: the text deltas the data plane extracts go through ``Chain.stream``."""

import json

import pytest

from guardrails.catalog.pii import restore
from guardrails.catalog.regex import STREAM_WINDOW
from tests.guardrails.conftest import chain_of, chat, stream_text

pytestmark = pytest.mark.anyio


def words(**section) -> tuple[str, dict]:
    return ("word-count-guardrail", {"response": {"enabled": True, **section}})


def regex(**section) -> tuple[str, dict]:
    return ("regex-guardrail", {"response": {"enabled": True, **section}})


async def test_without_response_policies_text_flows_unchanged():
    released, intervention = await stream_text(chain_of(), ["a", "b"])
    assert (released, intervention) == (["a", "b", ""], None)


async def test_a_word_count_with_no_minimum_releases_each_delta_at_once():
    released, intervention = await stream_text(chain_of(words(max=10)), ["one ", "two ", "three"])
    assert released == ["one ", "two ", "three", ""]
    assert intervention is None


async def test_a_word_count_violation_mid_stream_stops_releasing_text():
    released, intervention = await stream_text(
        chain_of(words(max=3)), ["one two ", "three four ", "five"]
    )
    assert released == ["one two ", ""]
    assert intervention.direction == "RESPONSE"
    assert intervention.reason == "Violation of applied word count constraints detected."


async def test_a_word_count_minimum_holds_text_back_until_it_is_reached():
    released, _ = await stream_text(
        chain_of(words(min=3, max=10)), ["one ", "two ", "three ", "four"]
    )
    assert released == ["", "", "one two three ", "four", ""]


async def test_a_stream_ending_under_the_minimum_releases_nothing():
    released, intervention = await stream_text(chain_of(words(min=5, max=10)), ["one ", "two"])
    assert "".join(released) == ""
    assert intervention is not None


async def test_an_inverted_range_is_held_until_the_end():
    released, intervention = await stream_text(
        chain_of(words(min=0, max=3, invert=True)), ["one ", "two"]
    )
    assert released == ["", "", ""]
    assert intervention is not None


async def test_an_inverted_range_flows_once_the_count_passes_the_maximum():
    released, intervention = await stream_text(
        chain_of(words(min=0, max=1, invert=True)), ["one ", "two ", "three"]
    )
    assert released == ["", "one two ", "three", ""]
    assert intervention is None


async def test_a_word_split_across_deltas_counts_once():
    released, intervention = await stream_text(chain_of(words(max=2)), ["hel", "lo wor", "ld"])
    assert "".join(released) == "hello world"
    assert intervention is None


async def test_sentence_count_stops_the_stream_at_the_extra_sentence():
    chain = chain_of(("sentence-count-guardrail", {"response": {"enabled": True, "max": 1}}))
    released, intervention = await stream_text(chain, ["First. ", "Second."])
    assert released == ["First. ", ""]
    assert intervention is not None


async def test_content_length_stops_the_stream_once_the_bytes_exceed_the_maximum():
    chain = chain_of(("content-length-guardrail", {"response": {"enabled": True, "max": 5}}))
    released, intervention = await stream_text(chain, ["abc", "déf"])
    assert released == ["abc", ""]
    assert intervention is not None


async def test_a_blocked_phrase_split_across_deltas_is_never_released():
    prefix = "x" * (2 * STREAM_WINDOW)
    released, intervention = await stream_text(
        chain_of(regex(regex="forbidden", invert=True)), [prefix, " forb", "idden", " more"]
    )
    assert intervention is not None
    assert set("".join(released)) == {"x"}


async def test_a_blocklist_releases_text_that_falls_behind_the_window():
    text = "y" * (3 * STREAM_WINDOW)
    released, intervention = await stream_text(
        chain_of(regex(regex="forbidden", invert=True)), [text, "z"]
    )
    assert released[0] == text[: 2 * STREAM_WINDOW]
    assert "".join(released) == text + "z"
    assert intervention is None


async def test_a_blocklist_anchored_at_the_end_only_matches_the_real_end():
    chain = chain_of(regex(regex="bad$", invert=True))
    released, intervention = await stream_text(chain, ["not bad", " at all"])
    assert "".join(released) == "not bad at all"
    assert intervention is None


async def test_a_required_pattern_holds_text_until_it_matches():
    chain = chain_of(regex(regex="DONE"))
    released, intervention = await stream_text(chain, ["working ", "DO", "NE ", "then more"])
    assert released == ["", "", "working DONE ", "then more", ""]
    assert intervention is None


async def test_a_required_pattern_that_never_matches_releases_nothing():
    released, intervention = await stream_text(chain_of(regex(regex="DONE")), ["still ", "going"])
    assert "".join(released) == ""
    assert intervention is not None


async def test_a_json_schema_holds_the_whole_text_and_releases_it_when_valid():
    schema = json.dumps({"type": "object", "required": ["a"]})
    chain = chain_of(("json-schema-guardrail", {"response": {"enabled": True, "schema": schema}}))
    released, intervention = await stream_text(chain, ['{"a"', ": 1}"])
    assert released == ["", "", '{"a": 1}']
    assert intervention is None


async def test_a_json_schema_violation_at_the_end_releases_nothing():
    schema = json.dumps({"type": "object", "required": ["a"]})
    chain = chain_of(("json-schema-guardrail", {"response": {"enabled": True, "schema": schema}}))
    released, intervention = await stream_text(chain, ['{"b"', ": 1}"])
    assert "".join(released) == ""
    assert intervention.reason == "Violation of JSON schema detected."


async def test_a_url_split_across_deltas_is_checked_once_complete(web_server):
    chain = chain_of(("url-guardrail", {"response": {"enabled": True}}))
    host, rest = web_server[:12], web_server[12:]
    released, intervention = await stream_text(chain, ["see ", host, rest + "/ok", " now"])
    assert "".join(released) == f"see {web_server}/ok now"
    assert released[1] == ""  # the unfinished URL was held back
    assert intervention is None


async def test_an_invalid_url_in_a_stream_is_never_released(web_server):
    chain = chain_of(("url-guardrail", {"response": {"enabled": True}}))
    released, intervention = await stream_text(chain, ["see ", f"{web_server}/miss", "ing now"])
    assert "missing" not in "".join(released)
    assert intervention.reason == "Violation of url validity detected."


async def masked_state(chain, prompt: str) -> dict:
    state: dict = {}
    await chain.run_request(chat(prompt), state)
    return state


PII = ("pii-masking-regex", {"email": True})


@pytest.mark.parametrize("split", range(1, len("[EMAIL_0000]")))
async def test_a_placeholder_split_across_deltas_is_restored(split):
    chain = chain_of(PII)
    state = await masked_state(chain, "mail jane@example.com")
    text = "Sent to [EMAIL_0000] today."
    cut = len("Sent to ") + split
    released, _ = await stream_text(chain, [text[:cut], text[cut:]], state)
    assert "".join(released) == "Sent to jane@example.com today."


async def test_a_placeholder_split_over_many_deltas_is_restored():
    chain = chain_of(PII)
    state = await masked_state(chain, "mail jane@example.com")
    released, _ = await stream_text(chain, list("[EMAIL_0000]!"), state)
    assert "".join(released) == "jane@example.com!"


async def test_ordinary_brackets_are_not_held_back():
    chain = chain_of(PII)
    state = await masked_state(chain, "mail jane@example.com")
    released, _ = await stream_text(chain, ["see [note", "] here"], state)
    assert released[0] == "see [note"


async def test_a_stream_with_nothing_masked_has_nothing_to_restore():
    chain = chain_of(PII)
    state = await masked_state(chain, "no pii here")
    guard = chain.stream(state)
    assert await guard.feed("[EMAIL_") == ("[EMAIL_", None)


async def test_restored_pii_is_recorded_as_a_modification():
    chain = chain_of(PII)
    state = await masked_state(chain, "mail jane@example.com")
    guard = chain.stream(state)
    await guard.feed("[EMAIL_0000]")
    await guard.finish()
    assert guard.events == [
        {"policy": "pii-masking-regex", "action": "modified", "direction": "RESPONSE"}
    ]


async def test_provider_judges_see_the_stream_before_proxy_placeholders_are_restored():
    # The provider's blocklist sees "[EMAIL_0000]", never the address the proxy restores after.
    chain = chain_of(PII, provider=[regex(regex="jane@", invert=True)])
    state = await masked_state(chain, "mail jane@example.com")
    released, intervention = await stream_text(chain, ["to [EMAIL_0000]"], state)
    assert "".join(released) == "to jane@example.com"
    assert intervention is None


async def test_after_an_intervention_the_guard_releases_nothing_more():
    guard = chain_of(words(max=1)).stream({})
    _, first = await guard.feed("one two")
    assert await guard.feed("three") == ("", first)
    assert await guard.finish() == ("", first)
    assert guard.events == [
        {"policy": "word-count-guardrail", "action": "intervened", "direction": "RESPONSE"}
    ]


STREAMED = "A [EMAIL_0000][EMAIL_0001] b [X_EMAIL_0000] [[EMAIL_0001]] [EMAIL_0009] [TAG_0000]."


@pytest.mark.parametrize(
    ("prompt", "params"),
    [
        ("mail jane@example.com or joe@example.com", {"email": True}),
        # An original holding "[": replacing one placeholder after another would go wrong.
        ("see <x[EMAIL_0001]y> and joe@example.com", "bracket"),
        (" ".join(f"u{i}@example.com" for i in range(12)), {"email": True}),
    ],
)
async def test_streamed_placeholders_come_back_as_the_one_pass_restore_gives(prompt, params):
    if params == "bracket":
        entity = {"piiEntity": "TAG", "piiRegex": "<[^>]+>"}
        params = {"email": True, "customPIIEntities": [entity]}
    chain = chain_of(("pii-masking-regex", params))
    state = await masked_state(chain, prompt)
    (mapping,) = state.values()
    expected = restore(STREAMED, mapping.originals)
    assert expected != STREAMED
    if "[TAG_0000]" in mapping.originals:
        assert "<x[EMAIL_0001]y>." in expected  # the original comes back as it was
    for size in (1, 3, len(STREAMED)):
        deltas = [STREAMED[i : i + size] for i in range(0, len(STREAMED), size)]
        released, intervention = await stream_text(chain, deltas, state)
        assert intervention is None
        assert "".join(released) == expected


async def test_a_judge_that_waits_on_the_network_answers_like_any_other(web_server):
    plain = chain_of(("word-count-guardrail", {"response": {"enabled": True, "max": 2}}))
    guard = plain.stream({})
    assert await guard.feed("one two") == ("one two", None)
    stopped = await guard.feed(" three")
    assert stopped[0] == "" and stopped[1].policy == "word-count-guardrail"

    waiting = chain_of(("url-guardrail", {"response": {"enabled": True}})).stream({})
    released, intervention = await waiting.feed(f"see {web_server}/missing now")
    assert released == "" and intervention.reason == "Violation of url validity detected."
