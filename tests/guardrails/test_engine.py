import asyncio

import pytest

from deployments.snapshot import build_proxy_snapshot
from guardrails.engine import (
    EMPTY_CHAIN,
    Chain,
    ChainCompileError,
    compile_chain,
    intervention_body,
)
from guardrails.registry import MODIFIED, Phase, Policy
from tests.factories import GuardrailFactory, ProxyFactory
from tests.guardrails.conftest import answer, chain_of, chat, completion

pytestmark = pytest.mark.anyio

WORDS = ("word-count-guardrail", {"request": {"max": 50}, "response": {"enabled": True, "max": 50}})
REGEX = (
    "regex-guardrail",
    {"request": {"regex": "."}, "response": {"enabled": True, "regex": "."}},
)


def decorator(text: str) -> tuple[str, dict]:
    return ("prompt-decorator", {"promptDecoratorConfig": {"text": text}, "append": True})


def test_no_attachments_compile_to_the_shared_empty_chain():
    chain = compile_chain([], [])
    assert chain is EMPTY_CHAIN
    assert not chain


async def test_an_empty_chain_returns_the_body_untouched():
    body = chat("hi")
    result = await EMPTY_CHAIN.run_request(body, {})
    assert result.body is body
    assert (result.intervention, result.modified, result.events) == (None, False, [])


async def test_requests_run_the_proxy_chain_then_the_provider_chain():
    chain = chain_of(decorator("proxy-1"), decorator("proxy-2"), provider=[decorator("provider")])
    result = await chain.run_request(chat("hi"), {})
    assert result.body["messages"][0]["content"] == "hi proxy-1 proxy-2 provider"


async def test_responses_run_the_provider_chain_then_the_proxy_chain():
    chain = chain_of(WORDS, provider=[REGEX])
    result = await chain.run_response(answer(completion("fine")), {})
    assert [e["policy"] for e in result.events] == ["regex-guardrail", "word-count-guardrail"]


async def test_each_policy_reports_what_it_did():
    chain = chain_of(decorator("x"), WORDS)
    result = await chain.run_request(chat("hi"), {})
    assert result.events == [
        {"policy": "prompt-decorator", "action": "modified", "direction": "REQUEST"},
        {"policy": "word-count-guardrail", "action": "passed", "direction": "REQUEST"},
    ]
    assert result.modified


async def test_an_intervention_stops_the_chain_and_never_reads_as_passed():
    strict = ("word-count-guardrail", {"request": {"max": 1}})
    chain = chain_of(strict, provider=[REGEX])
    result = await chain.run_request(chat("two words"), {})
    assert result.events == [
        {"policy": "word-count-guardrail", "action": "intervened", "direction": "REQUEST"}
    ]
    assert result.intervention.direction == "REQUEST"


async def test_a_policy_only_runs_in_the_directions_it_has_enabled():
    chain = chain_of(("word-count-guardrail", {"request": {"max": 5}}))
    assert chain.has_request
    assert not chain.has_response


def test_an_unknown_policy_cannot_be_compiled():
    with pytest.raises(ChainCompileError, match="Unknown policy 'nope'"):
        compile_chain([{"id": 1, "policy": "nope", "version": "v1", "params": {}}], [])


def test_an_unavailable_version_cannot_be_compiled():
    attachment = {"id": 1, "policy": "word-count-guardrail", "version": "v9", "params": {}}
    with pytest.raises(ChainCompileError, match="v9 is not available"):
        compile_chain([attachment], [])


def test_unusable_parameters_cannot_be_compiled():
    attachment = {
        "id": 7,
        "policy": "regex-guardrail",
        "version": "v1",
        "params": {"request": {"regex": "("}},
    }
    with pytest.raises(ChainCompileError, match="attachment 7"):
        compile_chain([attachment], [])


def test_the_422_body_omits_assessments_unless_shown():
    from guardrails.engine import Intervention

    hidden = Intervention(
        "regex-guardrail", "REQUEST", "why", "details", False, 422, "REGEX_GUARDRAIL"
    )
    shown = Intervention(
        "regex-guardrail", "REQUEST", "why", "details", True, 422, "REGEX_GUARDRAIL"
    )
    assert "assessments" not in intervention_body(hidden)["message"]
    assert intervention_body(shown)["message"]["assessments"] == "details"


async def test_the_intervention_has_a_readable_one_line_message():
    result = await chain_of(("word-count-guardrail", {"request": {"max": 1}})).run_request(
        chat("two words"), {}
    )
    assert result.intervention.message == (
        "Guardrail word-count-guardrail intervened on the request: "
        "Violation of applied word count constraints detected."
    )


class Exploding(Policy):
    name = "exploding"
    display_name = "Exploding"
    phases = frozenset({Phase.REQUEST})

    async def on_request(self, ctx):
        raise RuntimeError("boom")


async def test_a_policy_that_fails_stops_the_request_instead_of_skipping_the_check():
    result = await Chain([Exploding({})], []).run_request(chat("hi"), {})
    assert intervention_body(result.intervention) == {
        "type": "GUARDRAIL_ERROR",
        "message": "Guardrail exploding could not be evaluated.",
    }
    assert result.events == [
        {"policy": "exploding", "action": "intervened", "direction": "REQUEST"}
    ]


def test_a_deployment_snapshot_compiles_into_a_chain(db):
    proxy = ProxyFactory()
    GuardrailFactory(proxy=proxy, params={"request": {"max": 2}})
    guardrails = build_proxy_snapshot(proxy)["guardrails"]
    chain = compile_chain(guardrails["proxy"], guardrails["provider"])
    result = asyncio.run(chain.run_request(chat("one two three"), {}))
    assert result.intervention.policy == "word-count-guardrail"


class Appending(Policy):
    """Appends its mark to the prompt."""

    name = "appending"
    display_name = "Appending"
    phases = frozenset({Phase.REQUEST})

    def setup(self, params):
        self.mark = params["mark"]

    async def on_request(self, ctx):
        ctx.body["messages"][-1]["content"] += self.mark
        return MODIFIED


class AwaitingAppending(Appending):
    """The same, after waiting on the event loop (as a policy doing I/O would)."""

    async def on_request(self, ctx):
        await asyncio.sleep(0)
        return await super().on_request(ctx)


async def test_hooks_that_wait_and_hooks_that_do_not_run_in_attachment_order():
    chain = Chain(
        [Appending({"mark": "1"}), AwaitingAppending({"mark": "2"}), Appending({"mark": "3"})], []
    )
    result = await chain.run_request(chat("x"), {})
    assert result.body["messages"][-1]["content"] == "x123"
    assert [e["action"] for e in result.events] == ["modified"] * 3
