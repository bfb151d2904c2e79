"""Counting guardrails pass texts too short to exceed the maximum without counting them: the
bound each counter gives must hold for every text, and the chain's verdicts must not change."""

import random

import pytest

from guardrails.catalog.counting import ByteCounter, SentenceCounter, WordCounter
from tests.guardrails.conftest import chat, request_error

pytestmark = pytest.mark.anyio

PIECES = [" ", "\t", "\n", "\x1c", "a", "b", ".", "!", "?", "\u00e9", "\u2003", "\U0001f600"]


@pytest.mark.parametrize("counter", [WordCounter, SentenceCounter, ByteCounter])
def test_no_text_within_the_bound_counts_past_it(counter):
    rng = random.Random(11)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 16)))
        for most in range(0, 9):
            if len(text) <= counter.longest_within(most):
                assert counter.count(text) <= most, (counter.__name__, most, repr(text))


@pytest.mark.parametrize(
    ("name", "most", "longest", "over"),
    [
        # The longest text that is passed uncounted, and one over the maximum.
        ("word-count-guardrail", 2, "a b ", "a b c"),
        ("sentence-count-guardrail", 2, "a.b.", "a.b.c"),
        ("content-length-guardrail", 4, "\U0001f600", "abcde"),
    ],
)
async def test_verdicts_at_the_bound_are_the_counted_ones(name, most, longest, over):
    limit = {"request": {"max": most}}
    assert await request_error(name, limit, chat(longest)) is None
    body = await request_error(name, limit, chat(over))
    assert body is not None and body["message"]["interveningGuardrail"] == name
    # With a minimum, or inverted, nothing is passed uncounted.
    assert await request_error(name, {"request": {"max": most, "min": 1}}, chat("")) is not None
    inverted = {"request": {"max": most, "invert": True}}
    assert await request_error(name, inverted, chat(longest)) is not None
