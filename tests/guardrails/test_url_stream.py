"""The URL guardrail on a streamed response: the scan for a URL still arriving at the end of
the text is linear, and the URL cap counts the distinct URLs of the whole stream."""

import itertools
import re
import time

import pytest

from guardrails.catalog.url import open_url_start
from tests.guardrails.conftest import chain_of, stream_text

pytestmark = pytest.mark.anyio

# What the scan must agree with: a URL (or the start of a scheme) reaching the end of a text.
ANCHORED = re.compile(r"(?:https?://[^\s,\"'{}\[\]\\`*]*|h(?:t(?:t(?:p(?:s?(?::/?)?)?)?)?)?)\Z")


def url_guardrail(**params) -> tuple[str, dict]:
    return ("url-guardrail", {"response": {"enabled": True, **params}})


def test_the_open_url_scan_agrees_with_the_anchored_pattern():
    pieces = ["h", "t", "tp", "s", ":", "/", " ", "x", "http", "https:/", "http://"]
    disagreements = []
    for size in range(6):
        for chosen in itertools.product(pieces, repeat=size):
            text = "".join(chosen)
            found = ANCHORED.search(text)
            expected = None if found is None else found.start()
            if open_url_start(text) != expected:
                disagreements.append(text)
    assert disagreements == []


async def test_the_open_url_scan_of_a_42_kb_event_takes_well_under_a_second(url_check_client):
    # Thousands of scheme starts in one run of URL characters that does not reach the end:
    # an anchored search tries each and runs to the end of the run every time.
    event = "see http://127.0.0.1/" + "http://" * 6000 + " and more"
    started = time.perf_counter()
    await stream_text(chain_of(url_guardrail()), [event])
    assert time.perf_counter() - started < 0.25


async def test_the_cap_counts_the_distinct_urls_of_the_whole_stream(web_server):
    deltas = [f"one {web_server}/ok ", f"two {web_server}/moved ", f"three {web_server}/ok?3 "]
    released, intervention = await stream_text(chain_of(url_guardrail(maxUrls=2)), deltas)
    assert (released, intervention.reason) == (
        [*deltas[:2], ""],
        "Too many URLs to validate: more than 2.",
    )


async def test_a_url_checked_earlier_in_the_stream_does_not_count_again(web_server):
    deltas = [f"see {web_server}/ok ", f"and again {web_server}/ok ", "done"]
    released, intervention = await stream_text(chain_of(url_guardrail(maxUrls=1)), deltas)
    assert ("".join(released), intervention) == ("".join(deltas), None)


async def test_a_loopback_url_in_a_stream_is_never_released(url_check_client):
    deltas = ["read ", "http://127.0.0.1:9/admin", " now"]
    released, intervention = await stream_text(chain_of(url_guardrail()), deltas)
    assert ("admin" in "".join(released), intervention.reason) == (
        False,
        "Violation of url validity detected.",
    )
