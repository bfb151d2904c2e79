"""How a stream passes the response guardrails (``GuardrailStream``): which events go out as the
upstream sent them, which wait, how released text is written back, and that the text a client
reads is what a simple reference makes of the whole stream, however the stream is cut into
reads. Driven through the filter's public surface, with the stream cut into events by the
same codec the relay uses (``ServerSentEvents``); no server."""

import asyncio
import gc
import random

import orjson
import pytest

from gateways.dataplane.filters.guardrails import GuardrailStream
from gateways.dataplane.sse import ServerSentEvents, event_json
from guardrails.catalog.pii import restore
from guardrails.engine import compile_chain
from tests.gateway.test_adapters import adapter

PII = {"id": 2, "policy": "pii-masking-regex", "version": "v1", "params": {"email": True}}
COUNTS = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


def sse(data: dict, event: str = "") -> bytes:
    return (f"event: {event}\n" if event else "").encode() + b"data: " + orjson.dumps(data)


def chunk(text: str) -> dict:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }


def restoring(name: str = "openai", attachments=(PII,)) -> tuple[GuardrailStream, list]:
    """A stream filter restoring ``[EMAIL_0000]`` to jane@example.com, as after a masked
    request, and the list it reports what the policies did to."""
    chain = compile_chain(list(attachments), [])
    state: dict = {}
    body = {"messages": [{"role": "user", "content": "mail jane@example.com"}]}
    asyncio.run(chain.run_request(body, state))
    noted: list = []
    stream = GuardrailStream(adapter(name), ServerSentEvents(), chain.stream(state), noted.extend)
    return stream, noted


async def relayed(stream: GuardrailStream, reads: list[bytes]) -> bytes:
    """What the client receives when the upstream's stream arrives in ``reads``."""
    codec, out = stream.codec, []
    for read in reads:
        events = codec.feed(read)
        if events:
            out.append(await stream.on_events(events))
    rest = codec.rest()
    if rest:
        out.append(await stream.on_events(rest))
    out.append(await stream.on_end())
    return b"".join(out)


def relay(stream: GuardrailStream, reads: list[bytes]) -> bytes:
    return asyncio.run(relayed(stream, reads))


def whole(events: list[bytes]) -> bytes:
    return b"".join(event + b"\n\n" for event in events)


def text_of(sent: bytes) -> str:
    parts = []
    for raw in sent.split(b"\n\n"):
        data = event_json(raw)
        if isinstance(data, dict) and data.get("choices"):
            parts.append(data["choices"][0].get("delta", {}).get("content") or "")
    return "".join(parts)


def test_closing_events_wait_for_text_still_held_back():
    regex = {
        "id": 1,
        "policy": "regex-guardrail",
        "version": "v1",
        "params": {"response": {"enabled": True, "regex": "END"}},
    }
    stream, _ = restoring("anthropic", [regex])

    def delta(text):
        return sse({"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}})

    events = [
        sse({"type": "content_block_start"}, "content_block_start"),
        delta("the "),
        delta("END"),
        sse({"type": "content_block_stop"}, "content_block_stop"),
    ]
    sent = relay(stream, [e + b"\n\n" for e in events])
    kinds = [event_json(e)["type"] for e in sent.split(b"\n\n") if e]
    assert kinds == ["content_block_start", "content_block_delta", "content_block_stop"]
    assert event_json(sent.split(b"\n\n")[1])["delta"]["text"] == "the END"


def test_events_without_a_bracket_in_their_text_go_out_as_the_upstream_sent_them():
    events = [sse(chunk("Hello ")), sse(chunk("there [] [{x}]")), b"data: [DONE]"]
    stream, _ = restoring()
    assert relay(stream, [whole(events)]) == whole(events)


def test_a_placeholder_the_upstream_escaped_as_unicode_is_still_restored():
    # JSON may spell "[" as \u005b: the raw bytes then show no bracket, the text does.
    escaped = b'data: {"choices":[{"index":0,"delta":{"content":"to \\u005bEMAIL_"}}]}'
    events = [sse(chunk("Sent ")), escaped, sse(chunk("0000] now")), b"data: [DONE]"]
    stream, _ = restoring()
    assert text_of(relay(stream, [whole(events)])) == "Sent to jane@example.com now"


def test_text_after_a_held_placeholder_waits_until_it_is_released():
    events = [
        sse(chunk("a [EMA")),
        sse(chunk("IL_00")),
        sse(chunk("00] b")),
        sse(chunk(" c")),
        sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
        b"data: [DONE]",
    ]
    stream, noted = restoring()
    sent = relay(stream, [e + b"\n\n" for e in events])
    out = [e + b"\n\n" for e in sent.split(b"\n\n") if e]
    assert text_of(sent) == "a jane@example.com b c"
    assert out[-1] == b"data: [DONE]\n\n"
    assert out[-3] == events[3] + b"\n\n"  # released unchanged: relayed as it came
    assert noted == [{"policy": "pii-masking-regex", "action": "modified", "direction": "RESPONSE"}]


def test_events_read_together_keep_their_order_around_one_that_waits():
    escaped = b'data: {"choices":[{"index":0,"delta":{},"note":"\\u00e9"}]}'
    events = [sse(chunk("x [y")), escaped, sse(chunk("z")), b"data: [DONE]"]
    stream, _ = restoring()
    read = whole(events)  # one read, as under load
    assert relay(stream, [read]) == read  # nothing to restore: every event as it came


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'data: {"a": 1}', {"a": 1}),
        (b'data:{"a": 1}', {"a": 1}),
        (b"data: [1, 2]", [1, 2]),
        (b'event: x\ndata: {"a":\ndata: 1}', {"a": 1}),
        (b"data: [DONE]", None),
        (b"data: 42", None),
        (b'data: "text"', None),
        (b"data: {broken", None),
        (b": comment", None),
    ],
)
def test_an_event_reads_as_its_json_object_or_nothing(raw, expected):
    assert event_json(raw) == expected


@pytest.mark.parametrize("original", ['k"42', "k\\42", "k\t42", "k\u00a042", "k\u00e942"])
def test_restored_text_is_written_back_with_what_json_escapes(original):
    keys = [{"piiEntity": "KEY", "piiRegex": "k[^0-9a-z ]?[0-9]+"}]
    chain = compile_chain([{**PII, "params": {"customPIIEntities": keys}}], [])
    state: dict = {}
    body = {"messages": [{"role": "user", "content": f"use {original} now"}]}
    asyncio.run(chain.run_request(body, state))
    assert body["messages"][0]["content"] == "use [KEY_0000] now"
    noted: list = []
    stream = GuardrailStream(
        adapter("openai"), ServerSentEvents(), chain.stream(state), noted.extend
    )
    events = [sse(chunk("it is [KEY")), sse(chunk("_0000], ok")), b"data: [DONE]"]
    sent = relay(stream, [e + b"\n\n" for e in events])
    out = [e for e in sent.split(b"\n\n") if e]
    assert out[0] == sse(chunk("it is "))
    assert event_json(out[1]) == chunk(f"{original}, ok")
    assert text_of(sent) == f"it is {original}, ok"
    assert noted[0]["action"] == "modified"


def test_an_event_that_is_all_placeholder_start_waits_and_carries_the_release():
    stream, _ = restoring()
    events = [sse(chunk("[EMAIL")), sse(chunk("_0000] sent")), b"data: [DONE]"]
    sent = relay(stream, [e + b"\n\n" for e in events])
    assert sent == sse(chunk("jane@example.com sent")) + b"\n\ndata: [DONE]\n\n"


def test_a_split_placeholder_is_carried_by_the_event_that_completes_it():
    # The middle event's text is part of the held start: it waits, and is dropped when the
    # event that completes the placeholder carries the release (never sent with no text).
    stream, _ = restoring()
    events = [sse(chunk("to [EM")), sse(chunk("A")), sse(chunk("IL_0000] now")), b"data: [DONE]"]
    for reads in ([whole(events)], [e + b"\n\n" for e in events]):
        stream, _ = restoring()
        assert relay(stream, reads) == (
            whole([sse(chunk("to ")), sse(chunk("jane@example.com now"))]) + b"data: [DONE]\n\n"
        )


def test_the_placeholder_judge_sees_every_event_whose_text_it_would_touch():
    chain = compile_chain([PII], [])
    state: dict = {}
    asyncio.run(chain.run_request({"messages": [{"role": "user", "content": "a@b.io"}]}, state))
    pieces = ["[", "]", "{", "A", "D", "ONE", "_", "0", "f", "g", " ", "EMAIL", "[DONE]", '"']
    rng = random.Random(4)
    seen = 0
    for _ in range(8_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        raw = sse(chunk(text)) + b"\n\n"
        released, _ = asyncio.run(chain.stream(state).feed(text))
        if released != text:  # restored, or held back
            assert chain.stream(state).raw_scan(raw, 0) < len(raw), text
            seen += 1
    assert seen > 400
    for passed in ("[{x}]", "a [] b", "see [DONE]", "[ x", "[!"):
        raw = sse(chunk(passed)) + b"\n\n"
        assert chain.stream(state).raw_scan(raw, 0) == len(raw)


def test_a_guarded_stream_leaves_nothing_for_the_cycle_collector():
    # Whatever a request leaves in reference cycles piles up until a collection pauses
    # every request in flight.
    events = [sse(chunk("to [EMA")), sse(chunk("IL_0000] now")), b"data: [DONE]"]
    chain = compile_chain([PII], [])

    def drive(coroutine):
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value
        raise AssertionError("nothing here waits")

    def one():
        state: dict = {}
        body = {"messages": [{"role": "user", "content": "mail jane@example.com"}]}
        drive(chain.run_request(body, state))
        noted: list = []
        guard = chain.stream(state)
        stream = GuardrailStream(adapter("openai"), ServerSentEvents(), guard, noted.extend)
        drive(relayed(stream, [whole(events)]))
        assert noted[-1]["action"] == "modified"

    one()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            one()
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


# Texts that make a stream's placeholders whole, split across events (in two or three
# pieces), almost a placeholder, or anything but one; and event shapes other than the usual.
TEXTS = [
    "[EMA",
    "IL_0000] ",
    "[EMAIL_0000]",
    "[",
    "EM",
    "AIL_0000]",
    "[EMAIL_00",
    "00]",
    "plain ",
    'a "quote" ',
    "back\\slash ",
    "",
    "caf\u00e9 ",
    "x]",
    "[DONE] ",
    "[ABC",
    "d ",
    "[ab",
]


def random_stream(rng: random.Random) -> list[bytes]:
    events = [sse({"object": "chat.completion.chunk", "choices": [{"delta": {"role": "a"}}]})]
    texts = []
    for _ in range(rng.randint(1, 10)):
        text = rng.choice(TEXTS)
        texts.append(text)
        data = chunk(text)
        if rng.random() < 0.1:
            data["choices"][0]["logprobs"] = {"content": [0.5]}
        events.append(sse(data))
    events.append(sse({"object": "chat.completion.chunk", "choices": [], "usage": COUNTS}))
    events.append(b"data: [DONE]")
    return events


def reference_text(events: list[bytes]) -> str:
    """The simple reference: the whole text of the stream, its placeholders restored in one
    pass (what the client would read of a complete answer)."""
    return restore(text_of(whole(events)), {"[EMAIL_0000]": "jane@example.com"})


def random_cuts(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def test_the_text_a_client_reads_is_the_reference_however_the_stream_is_cut():
    rng = random.Random(12)
    for _ in range(500):
        events = random_stream(rng)
        stream_bytes = whole(events)
        expected = reference_text(events)
        for reads in (
            [stream_bytes],
            [event + b"\n\n" for event in events],
            random_cuts(stream_bytes, rng),
        ):
            stream, noted = restoring()
            sent = relay(stream, reads)
            assert text_of(sent) == expected, events
            assert sent.endswith(b"data: [DONE]\n\n")
            usage = [event_json(e) for e in sent.split(b"\n\n") if b'"usage"' in e]
            assert usage and usage[-1]["usage"] == COUNTS
            action = "modified" if "[EMAIL_0000]" in text_of(stream_bytes) else "passed"
            assert noted == [
                {"policy": "pii-masking-regex", "action": action, "direction": "RESPONSE"}
            ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("pieces", [1, 2, 3, 7, 40])
def test_events_are_cut_whole_however_the_reads_fall(newline, pieces):
    events = [
        b': a comment naming "usage"',
        sse(chunk('the word "usage" in text')),
        b'event: note\ndata: {"usage": "not json',
        sse({"object": "chat.completion.chunk", "choices": [], "usage": COUNTS}),
        b"data: [DONE]",
    ]
    stream = b"".join(e.replace(b"\n", newline) + newline + newline for e in events)
    size = -(-len(stream) // pieces)
    codec = ServerSentEvents()
    out = [codec.feed(stream[i : i + size]) for i in range(0, len(stream), size)]
    out.append(codec.rest())
    assert b"".join(out) == whole(events)
