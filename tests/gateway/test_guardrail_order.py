"""Execution order: requests run the proxy's chain then the provider's; responses run the
provider's chain then the proxy's."""

import openai
import pytest

from tests.gateway.guardrail_world import (
    MODEL,
    Scenario,
    chat,
    on_both,
    on_provider,
    on_proxy,
    reply,
    serve,
)


def decorate(text: str) -> dict:
    return {"promptDecoratorConfig": {"text": text}}


@pytest.fixture(scope="module")
def guarded(committed, fake_upstream, start_gateway):
    return serve(
        start_gateway,
        fake_upstream.url,
        "order",
        {
            "decorators": Scenario(
                on_both(
                    on_provider("prompt-decorator", decorate("PROVIDER")),
                    on_proxy("prompt-decorator", decorate("PROXY")),
                )
            ),
            "two-in-one-chain": Scenario(
                on_both(
                    on_proxy("prompt-decorator", decorate("FIRST")),
                    on_proxy("prompt-decorator", decorate("SECOND")),
                )
            ),
            "judges": Scenario(
                on_both(
                    on_provider(
                        "regex-guardrail",
                        {
                            "request": {"regex": "never-present"},
                            "response": {"enabled": True, "regex": "never-present"},
                        },
                    ),
                    on_proxy(
                        "word-count-guardrail",
                        {
                            "request": {"min": 0, "max": 1},
                            "response": {"enabled": True, "min": 0, "max": 1},
                        },
                    ),
                )
            ),
        },
    )


def test_upstream_sees_the_proxy_decoration_applied_first(guarded, upstream):
    guarded.openai("decorators").chat.completions.create(model=MODEL, messages=chat("hi"))
    (received,) = upstream.received()
    # Prepending: the proxy's text goes on first, the provider's goes in front of it.
    assert '"content":"PROVIDER PROXY hi"' in received["body"]


def test_attachments_of_one_chain_run_in_their_order(guarded, upstream):
    guarded.openai("two-in-one-chain").chat.completions.create(model=MODEL, messages=chat("hi"))
    assert '"content":"SECOND FIRST hi"' in upstream.received()[0]["body"]


def test_request_phase_stops_at_the_proxy_guardrail_first(guarded, upstream):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        guarded.openai("judges").chat.completions.create(model=MODEL, messages=chat("a b c"))
    assert caught.value.body["interveningGuardrail"] == "word-count-guardrail"


def test_response_phase_stops_at_the_provider_guardrail_first(guarded, upstream):
    # The request passes both chains; the answer would fail both response guardrails.
    sdk = guarded.openai("judges", **reply("two words"))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=chat("never-present"))
    assert caught.value.body["direction"] == "RESPONSE"
    assert caught.value.body["interveningGuardrail"] == "regex-guardrail"
