"""What the adapters tell the guardrails: where text lives in each API's responses and stream
events, and the shape of an intervention in each API's errors. Pure functions, no server."""

import asyncio
import random

import orjson
import pytest

from gateways.relay import GuardedEvents, _event_json
from guardrails.engine import Intervention, compile_chain
from tests.gateway.test_adapters import adapter

INTERVENTION = Intervention(
    policy="regex-guardrail",
    direction="RESPONSE",
    reason="Violation of regular expression detected.",
    assessments="matched",
    show_assessment=True,
    type="REGEX_GUARDRAIL",
)


def regex_attachment(json_path: str) -> dict:
    return {
        "id": 1,
        "policy": "regex-guardrail",
        "version": "v1",
        "params": {"response": {"enabled": True, "regex": "x", "jsonPath": json_path}},
    }


def test_anthropic_reads_the_messages_text_when_the_path_is_the_default():
    adapted = adapter("anthropic").guardrail_attachment(
        regex_attachment("$.choices[0].message.content")
    )
    assert adapted["params"]["response"]["jsonPath"] == "$.content[0].text"


def test_a_path_the_user_chose_is_kept():
    attachment = regex_attachment("$.content[1].text")
    assert adapter("anthropic").guardrail_attachment(attachment) is attachment


def test_openai_keeps_the_default_path():
    attachment = regex_attachment("$.choices[0].message.content")
    assert adapter("openai").guardrail_attachment(attachment) is attachment


def test_gemini_native_stream_text_is_read_and_rewritten():
    gemini = adapter("gemini")
    event = {"candidates": [{"content": {"parts": [{"text": "hello"}], "role": "model"}}]}
    assert gemini.stream_text(event) == "hello"
    assert gemini.with_stream_text(event, "bye")["candidates"][0]["content"]["parts"][0] == {
        "text": "bye"
    }


def test_gemini_openai_route_stream_text_is_read():
    event = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
    assert adapter("gemini").stream_text(event) == "hi"


def test_events_without_text_have_none():
    assert adapter("openai").stream_text({"choices": [{"delta": {"role": "assistant"}}]}) is None
    assert adapter("anthropic").stream_text({"type": "ping"}) is None


def test_openai_intervention_body_carries_the_reference_fields():
    body = orjson.loads(adapter("openai").guardrail_error_body(INTERVENTION))
    assert body["error"] == {
        "message": "Guardrail regex-guardrail intervened on the response: "
        "Violation of regular expression detected.",
        "type": "guardrail_intervened",
        "code": "GUARDRAIL_INTERVENED",
        "guardrail_type": "REGEX_GUARDRAIL",
        "action": "GUARDRAIL_INTERVENED",
        "interveningGuardrail": "regex-guardrail",
        "direction": "RESPONSE",
        "actionReason": "Violation of regular expression detected.",
        "assessments": "matched",
    }


def test_bedrock_intervention_body_is_flat():
    body = orjson.loads(adapter("aws-bedrock").guardrail_error_body(INTERVENTION))
    assert body["code"] == "GUARDRAIL_INTERVENED"
    assert body["interveningGuardrail"] == "regex-guardrail"


def test_anthropic_stream_error_names_its_event():
    event = adapter("anthropic").sse_error_event(b"{}")
    assert event == b"event: error\ndata: {}\n\n"


def sse(data: dict, event: str = "") -> bytes:
    return (f"event: {event}\n" if event else "").encode() + b"data: " + orjson.dumps(data)


def test_closing_events_wait_for_text_still_held_back():
    chain = compile_chain(
        [
            {
                "id": 1,
                "policy": "regex-guardrail",
                "version": "v1",
                "params": {"response": {"enabled": True, "regex": "END"}},
            }
        ],
        [],
    )
    anthropic = adapter("anthropic")
    gate = GuardedEvents(anthropic, chain.stream({}))

    def delta(text):
        return sse({"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}})

    async def run():
        out = []
        for raw in (
            sse({"type": "content_block_start"}, "content_block_start"),
            delta("the "),
            delta("END"),
            sse({"type": "content_block_stop"}, "content_block_stop"),
        ):
            assert await gate.event(raw, out) is None
        assert await gate.finish(out) is None
        return out

    out = asyncio.run(run())
    kinds = [orjson.loads(e.split(b"data: ")[1])["type"] for e in out]
    assert kinds == ["content_block_start", "content_block_delta", "content_block_stop"]
    assert orjson.loads(out[1].split(b"data: ")[1])["delta"]["text"] == "the END"


PII_ATTACHMENT = {
    "id": 2,
    "policy": "pii-masking-regex",
    "version": "v1",
    "params": {"email": True},
}


def _restoring_gate(name: str = "openai") -> GuardedEvents:
    """A gate restoring ``[EMAIL_0000]`` to jane@example.com, as after a masked request."""
    chain = compile_chain([PII_ATTACHMENT], [])
    state: dict = {}
    body = {"messages": [{"role": "user", "content": "mail jane@example.com"}]}
    asyncio.run(chain.run_request(body, state))
    return GuardedEvents(adapter(name), chain.stream(state))


def _chunk(text: str) -> dict:
    choice = {"index": 0, "delta": {"content": text}}
    return {"object": "chat.completion.chunk", "choices": [choice]}


def _feed(gate: GuardedEvents, events: list[bytes]) -> list[bytes]:
    async def run():
        out: list[bytes] = []
        for raw in events:
            assert await gate.event(raw, out) is None
        assert await gate.finish(out) is None
        return out

    return asyncio.run(run())


def _text(out: list[bytes]) -> str:
    parts = []
    for event in out:
        data = event.strip().split(b"data: ", 1)[1]
        choices = orjson.loads(data)["choices"] if data != b"[DONE]" else []
        if choices:
            parts.append(choices[0]["delta"].get("content") or "")
    return "".join(parts)


def test_events_without_a_bracket_in_their_text_go_out_as_the_upstream_sent_them():
    events = [sse(_chunk("Hello ")), sse(_chunk("there [] [{x}]")), b"data: [DONE]"]
    out = _feed(_restoring_gate(), events)
    assert out == [e + b"\n\n" for e in events]


def test_a_placeholder_the_upstream_escaped_as_unicode_is_still_restored():
    # JSON may spell "[" as \u005b: the raw bytes then show no bracket, the text does.
    escaped = b'data: {"choices":[{"index":0,"delta":{"content":"to \\u005bEMAIL_"}}]}'
    events = [sse(_chunk("Sent ")), escaped, sse(_chunk("0000] now")), b"data: [DONE]"]
    assert _text(_feed(_restoring_gate(), events)) == "Sent to jane@example.com now"


def test_text_after_a_held_placeholder_goes_through_the_guard_until_it_is_released():
    events = [
        sse(_chunk("a [EMA")),
        sse(_chunk("IL_00")),
        sse(_chunk("00] b")),
        sse(_chunk(" c")),
        sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
        b"data: [DONE]",
    ]
    gate = _restoring_gate()
    out = _feed(gate, events)
    assert _text(out) == "a jane@example.com b c"
    assert out[-1] == b"data: [DONE]\n\n"
    assert out[-3] == events[3] + b"\n\n"  # released unchanged: relayed as it came
    assert gate.usage == {"prompt_tokens": 3, "completion_tokens": 4}


class _Reads:
    """What the relay reads of aiohttp's response: ``content.iter_any()``, here these reads."""

    def __init__(self, reads: list[bytes]):
        self.content = self
        self._reads = reads

    async def iter_any(self):
        for read in self._reads:
            yield read


class _Route:
    def __init__(self, chain):
        self.adapter = adapter("openai")
        self.chain = chain


def test_events_read_together_keep_their_order_around_one_that_waits():
    from gateways.relay import Exchange, _relay_sse_guarded

    chain = compile_chain([PII_ATTACHMENT], [])
    exchange = Exchange("m")
    exchange.state = {}
    body = {"messages": [{"role": "user", "content": "mail jane@example.com"}]}
    asyncio.run(chain.run_request(body, exchange.state))
    escaped = b'data: {"choices":[{"index":0,"delta":{},"note":"\\u00e9"}]}'
    events = [sse(_chunk("x [y")), escaped, sse(_chunk("z")), b"data: [DONE]"]
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    read = b"".join(e + b"\n\n" for e in events)  # one read, as under load
    asyncio.run(_relay_sse_guarded(_Reads([read]), _Route(chain), send, exchange, [], lambda: 0))
    out = b"".join(m.get("body", b"") for m in sent[1:])
    assert out == read  # nothing to restore: every event as it came, in its order


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
    assert _event_json(raw) == expected


# Raw events and whether the adapter finds their text without parsing them: only in the
# plainest shape; any doubt leaves the event to the parser.
_OPENAI_EVENTS = [
    (b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"x":null}]}', True),
    (b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi [EM"}}]}', True),
    ('data: {"choices":[{"delta":{"content":"caf\u00e9 \u2603"}}]}'.encode(), True),
    (b'data:{"choices":[{"delta":{"refusal":null,"content":"a","n":1}}]}', True),
    (b'data: {"choices":[{"delta":{"content":""}}]}', False),  # no text
    (b'data: {"choices":[{"delta":{"content":null,"tool_calls":[{"index":0}]}}]}', False),
    (b'data: {"choices":[{"delta":{"tool_calls":[{"index":0}],"content":"a"}}]}', False),
    (b'data: {"choices":[{"delta":{"content":"line\\nbreak"}}]}', False),  # an escape
    (b'data: {"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}', False),
    (b'data: {"choices": [{"delta": {"content": "spaced"}}]}', False),
    (b'event: x\ndata: {"choices":[{"delta":{"content":"two lines"}}]}', False),
    (b'data: {"choices":[{"delta":{"content":"\xff\xfe"}}]}', False),  # not UTF-8
    (b'data: {"type":"response.output_text.delta","delta":"Hi"}', False),
    (b'data: {"choices":[{"index":0,"text":"legacy"}]}', False),
    (b'data: {"choices":[],"usage":{"prompt_tokens":1}}', False),
    (b"data: [DONE]", False),
]
_ANTHROPIC_EVENTS = [
    (
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi [EMAIL_"}}',
        True,
    ),
    (
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"input_json_delta","partial_json":"{}"}}',
        False,
    ),
    (
        b'data: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"no event line"}}',
        False,
    ),
    (
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"a \\"quote\\""}}',
        False,
    ),
    (_OPENAI_EVENTS[0][0], False),  # another API's shape: not this adapter's text
]


@pytest.mark.parametrize(
    ("slug", "raw", "found"),
    [
        *(
            (slug, raw, found)
            for slug in (
                "openai",
                "openai-compatible",
                "mistral",
                "azure-openai",
                "aws-bedrock",
                "gemini",
            )
            for raw, found in _OPENAI_EVENTS
        ),
        *(("anthropic", raw, found) for raw, found in _ANTHROPIC_EVENTS),
    ],
)
def test_text_found_in_a_raw_event_is_what_parsing_it_finds(slug, raw, found):
    api = adapter(slug)
    located = api.locate_stream_text(raw)
    assert (located is not None) == found
    if located is None:
        return
    text, start, end = located
    parsed = _event_json(raw)
    assert text == api.stream_text(parsed)
    # Written into those bytes, released text makes the event that rewriting the parsed
    # one would: any text, with what JSON must escape.
    released = 'jane@example.com "quoted" \\ caf\u00e9\n'
    spliced = raw[:start] + orjson.dumps(released)[1:-1] + raw[end:]
    assert _event_json(spliced) == api.with_stream_text(parsed, released)


def test_streamed_placeholders_are_restored_the_same_in_raw_and_in_parsed_events():
    # The same stream in the shape the fast path reads and in one only parsing reads.
    plain = [sse(_chunk("Mail [EMA")), sse(_chunk("IL_0000] today")), b"data: [DONE]"]
    spaced = [
        b'data: {"choices": [{"index": 0, "delta": {"content": "Mail [EMA"}}]}',
        b'data: {"choices": [{"index": 0, "delta": {"content": "IL_0000] today"}}]}',
        b"data: [DONE]",
    ]
    assert adapter("openai").locate_stream_text(plain[0]) is not None
    assert adapter("openai").locate_stream_text(spaced[0]) is None
    for events in (plain, spaced):
        out = _feed(_restoring_gate(), events)
        assert _text(out) == "Mail jane@example.com today"
        assert out[-1] == b"data: [DONE]\n\n"


def test_the_relay_asks_the_placeholder_judge_about_raw_events_as_its_state_changes():
    gate = _restoring_gate()
    judge = gate.judge
    plain = sse(_chunk("nothing to restore"))
    assert judge is gate.guard._judges[0][1]  # the only judge keeps its own veto
    assert judge.raw_veto(plain) is None
    assert judge.raw_veto(sse(_chunk("a [EMAIL_0000]"))) is not None
    assert judge.raw_veto(b'data: {"choices":[],"x":[1]}') is not None
    out: list[bytes] = []
    assert asyncio.run(gate.event(sse(_chunk("to [EMA")), out)) is None
    assert judge.held == "[EMA"
    assert judge.raw_veto(plain) is not None  # holding: every event must be fed
    assert not gate.passes_raw(plain + b"\n\n")
    assert asyncio.run(gate.event(sse(_chunk("IL_0000]")), out)) is None
    assert judge.held == ""
    assert judge.raw_veto(plain) is None
    assert _text(out) == "to jane@example.com"


def test_a_guard_with_several_raw_judges_answers_for_all_of_them():
    codes = [{"piiEntity": "CODE", "piiRegex": "X-[0-9]+"}]
    second = {**PII_ATTACHMENT, "id": 3, "params": {"customPIIEntities": codes}}
    chain = compile_chain([PII_ATTACHMENT, second], [])
    state: dict = {}
    body = {"messages": [{"role": "user", "content": "jane@example.com has X-123"}]}
    asyncio.run(chain.run_request(body, state))
    guard = chain.stream(state)
    assert len(guard._judges) == 2
    assert guard.raw_judge() is guard
    assert guard.raw_veto(sse(_chunk("plain"))) is None
    assert guard.raw_veto(sse(_chunk("[CODE_"))) is not None
    regex = compile_chain([regex_attachment("$.choices[0].message.content")], [])
    assert regex.stream({}).raw_judge() is None  # a regex must read every text


def test_usage_is_read_from_the_events_that_carry_it_wherever_they_sit_in_a_read():
    counts = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    usage = sse({"object": "chat.completion.chunk", "choices": [], "usage": counts})
    talk = sse(_chunk('the word "usage" in text'))
    for events in (
        [usage, talk, b"data: [DONE]"],  # first in the read
        [talk, usage, b"data: [DONE]"],  # in the middle
        [talk, usage],  # last, without its blank line
    ):
        read = b"\n\n".join(events)
        gate = _restoring_gate()
        gate.read_usage(read)
        assert gate.usage == counts
        # The relay passes where it found the marker, so the read is not searched again.
        gate = _restoring_gate()
        gate.read_usage(read, read.find(gate.marker))
        assert gate.usage == counts
    gate = _restoring_gate()
    gate.read_usage(talk + b"\n\n" + talk)
    assert gate.usage == {}


@pytest.mark.parametrize("original", ['k"42', "k\\42", "k\t42", "k\u00a042", "k\u00e942"])
def test_restored_text_is_written_into_raw_events_with_what_json_escapes(original):
    keys = [{"piiEntity": "KEY", "piiRegex": "k[^0-9a-z ]?[0-9]+"}]
    chain = compile_chain([{**PII_ATTACHMENT, "params": {"customPIIEntities": keys}}], [])
    state: dict = {}
    body = {"messages": [{"role": "user", "content": f"use {original} now"}]}
    asyncio.run(chain.run_request(body, state))
    assert body["messages"][0]["content"] == "use [KEY_0000] now"
    gate = GuardedEvents(adapter("openai"), chain.stream(state))
    assert gate.feed_raw is not None
    events = [sse(_chunk("it is [KEY")), sse(_chunk("_0000], ok")), b"data: [DONE]"]
    out = _feed(gate, events)
    assert out[0] == sse(_chunk("it is ")) + b"\n\n"
    assert out[1] == sse(_chunk(f"{original}, ok")) + b"\n\n"
    assert _text(out) == f"it is {original}, ok"
    assert gate.guard.events[0]["action"] == "modified"


def test_an_event_that_is_all_placeholder_start_waits_and_carries_the_release():
    gate = _restoring_gate()
    events = [sse(_chunk("[EMAIL")), sse(_chunk("_0000] sent")), b"data: [DONE]"]
    out = _feed(gate, events)
    assert out == [sse(_chunk("jane@example.com sent")) + b"\n\n", b"data: [DONE]\n\n"]


def test_the_placeholder_veto_refuses_every_event_whose_text_the_judge_would_touch():
    from guardrails.catalog.pii import _PLACEHOLDER_START, _TEXT_BRACKET, PLACEHOLDER

    pieces = ["[", "]", "{", "A", "D", "ONE", "_", "0", "f", "g", " ", "EMAIL", "[DONE]", '"']
    rng = random.Random(4)
    refused = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        raw = sse(_chunk(text))
        start = text.rfind("[")
        touched = PLACEHOLDER.search(text) is not None or (
            start != -1 and _PLACEHOLDER_START.match(text, start) is not None
        )
        if touched:
            assert _TEXT_BRACKET(raw) is not None, text
            refused += 1
    assert refused > 1_000
    for passed in ("[{x}]", "a [] b", "see [DONE]", "[ x", "[!"):
        assert _TEXT_BRACKET(sse(_chunk(passed))) is None


def test_a_guarded_stream_leaves_nothing_for_the_cycle_collector():
    # A loaded worker runs the collector rarely (GATEHOUSE_GC_THRESHOLD): whatever a request
    # leaves in reference cycles piles up until a long collection pauses every request.
    import gc

    from gateways.relay import Exchange, _relay_sse_guarded

    chain = compile_chain([PII_ATTACHMENT], [])
    events = [sse(_chunk("to [EMA")), sse(_chunk("IL_0000] now")), b"data: [DONE]"]
    read = b"".join(e + b"\n\n" for e in events)

    class Content:
        async def iter_any(self):
            yield read

    class Upstream:
        content = Content()

    async def send(message):
        pass

    def drive(coroutine):
        try:
            coroutine.send(None)
        except StopIteration:
            return
        raise AssertionError("nothing here waits")

    def one():
        exchange = Exchange("m")
        exchange.state = {}
        body = {"messages": [{"role": "user", "content": "mail jane@example.com"}]}
        drive(chain.run_request(body, exchange.state))
        drive(_relay_sse_guarded(Upstream, _Route(chain), send, exchange, [], lambda: 0))
        assert exchange.guardrails[-1]["action"] == "modified"

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


def test_text_found_by_the_frame_of_the_last_event_is_what_locating_it_finds():
    # Events that differ from the last located one only in their text are read by comparing
    # the bytes around it; a relay that locates every event from scratch must send the same.
    texts = ["[EMA", "IL_0000] ", "plain ", 'a "quote"', "back\\slash", "", "caf\u00e9 ", "[", "x]"]

    def shaped(text: str, logprobs: bool) -> bytes:
        chunk = _chunk(text)
        if logprobs:
            chunk["choices"][0]["logprobs"] = None
        return sse(chunk)

    rng = random.Random(5)
    for _ in range(300):
        events = [shaped(rng.choice(texts), rng.random() < 0.2) for _ in range(rng.randint(1, 8))]
        events.append(b"data: [DONE]")
        framed, fresh = _restoring_gate(), _restoring_gate()

        async def run(gate: GuardedEvents, events: list[bytes], forget: bool) -> list[bytes]:
            out: list[bytes] = []
            for raw in events:
                assert await gate.event(raw, out) is None
                if forget:
                    gate.frame = None
            assert await gate.finish(out) is None
            return out

        kept = asyncio.run(run(framed, events, False))
        assert kept == asyncio.run(run(fresh, events, True)), events


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("pieces", [1, 2, 3, 7, 40])
def test_the_relay_without_guardrails_reads_usage_however_the_stream_is_cut(newline, pieces):
    from gateways.relay import Exchange, _relay_sse
    from guardrails.engine import EMPTY_CHAIN

    counts = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    events = [
        b': a comment naming "usage"',
        sse(_chunk('the word "usage" in text')),
        b'event: note\ndata: {"usage": "not json',
        sse({"object": "chat.completion.chunk", "choices": [], "usage": counts}),
        b"data: [DONE]",
    ]
    stream = b"".join(e.replace(b"\n", newline) + newline + newline for e in events)
    size = -(-len(stream) // pieces)
    reads = [stream[i : i + size] for i in range(0, len(stream), size)]
    exchange = Exchange("m")
    sent: list[bytes] = []

    async def send(message):
        sent.append(message.get("body", b""))

    asyncio.run(_relay_sse(_Reads(reads), _Route(EMPTY_CHAIN), send, exchange, [], lambda: 0))
    assert b"".join(sent) == stream
    assert exchange.usage is not None
    assert {k: exchange.usage[k] for k in counts} == counts


# Texts that make a stream's placeholders whole, split across events (in two or three
# pieces), almost a placeholder, or anything but one; and event shapes other than the usual.
_CARRIED_TEXTS = [
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


def _carried_events(rng: random.Random) -> list[bytes]:
    events = [sse({"object": "chat.completion.chunk", "choices": [{"delta": {"role": "a"}}]})]
    for _ in range(rng.randint(1, 10)):
        chunk = _chunk(rng.choice(_CARRIED_TEXTS))
        if rng.random() < 0.1:
            chunk["choices"][0]["logprobs"] = {"content": [0.5]}
        events.append(sse(chunk))
    counts = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    events.append(sse({"object": "chat.completion.chunk", "choices": [], "usage": counts}))
    events.append(b"data: [DONE]")
    return events


def test_a_read_settled_in_one_pass_reads_as_the_same_events_fed_one_by_one():
    # ``carried`` moves a held placeholder start into the next event's text and restores the
    # placeholders of a whole read at once; the client must read the same text as from a
    # gate fed event by event, and the judge must report the same.
    from guardrails.catalog.pii import _TEXT_BRACKET

    rng = random.Random(11)
    settled = moved = 0
    for _ in range(2_000):
        events = _carried_events(rng)
        read = b"".join(event + b"\n\n" for event in events)
        hit = _TEXT_BRACKET(read)
        if hit is None:
            continue
        gate, fed = _restoring_gate(), _restoring_gate()
        carried = gate.carried(read, hit.start())
        if carried is None:
            continue
        settled += 1
        moved += len(carried.split(b"\n\n")) == len(read.split(b"\n\n")) and carried != read
        expected = _feed(fed, events)
        assert _text([e + b"\n\n" for e in carried.split(b"\n\n") if e]) == _text(expected)
        assert gate.judge.modified == fed.judge.modified, events
        assert gate.judge.held == ""
        assert gate.pending == []
    assert settled > 300
    assert moved > 100


def test_a_read_settled_in_one_pass_moves_a_split_placeholder_into_the_next_event():
    gate = _restoring_gate()
    events = [sse(_chunk("to [EM")), sse(_chunk("A")), sse(_chunk("IL_0000] now")), b"data: [DONE]"]
    read = b"".join(event + b"\n\n" for event in events)
    carried = gate.carried(read, read.index(b"[EM"))
    assert (
        carried
        == b"".join(sse(_chunk(text)) + b"\n\n" for text in ("to ", "", "jane@example.com now"))
        + b"data: [DONE]\n\n"
    )
    assert gate.judge.modified


def test_a_read_of_whole_placeholders_settles_in_place_whatever_the_events_shape():
    # Nothing moves, so no frame is needed: a placeholder in an event the adapter cannot
    # locate text in is rewritten where it stands, as feeding would release it.
    gate = _restoring_gate()
    odd = {"choices": [{"index": 0, "delta": {"x": {"y": 1}, "content": "[EMAIL_0000] "}}]}
    assert gate.locate(sse(odd)) is None
    events = [sse(odd), sse(_chunk("and [EMAIL_0000]")), b"data: [DONE]"]
    read = b"".join(event + b"\n\n" for event in events)
    carried = gate.carried(read, read.index(b"[EM"))
    assert carried == read.replace(b"[EMAIL_0000]", b"jane@example.com")
    assert gate.frame is None
    assert gate.judge.modified


@pytest.mark.parametrize(
    "events",
    [
        [sse(_chunk("to [EMA"))],  # the start ends the read: held for the next one
        [sse(_chunk("to [EMA")), sse({"choices": [{"delta": {}, "finish_reason": "stop"}]})],
        [
            sse({"choices": [{"delta": {"content": "to [EMA"}, "index": 1}]}),
            sse(_chunk("IL_0000]")),
        ],
        [sse(_chunk("to [EM")), *[sse(_chunk("A")) for _ in range(20)]],  # too many moves
        # Not in the text, though the event ends as one does: another string of the delta.
        [
            sse({**_chunk(""), "choices": [{"index": 0, "delta": {"content": "a", "x": "[EMA"}}]}),
            sse(_chunk("IL_0000]")),
        ],
    ],
)
def test_a_read_whose_held_start_cannot_move_in_place_is_fed_event_by_event(events):
    gate = _restoring_gate()
    assert asyncio.run(gate.event(sse(_chunk("[EMAIL_0000] ")), [])) is None
    assert gate.frame is not None  # known before the read
    read = b"".join(event + b"\n\n" for event in events)
    assert gate.carried(read, read.index(b"[EM")) is None
    assert gate.judge.held == "" and gate.pending == []


def _relay_masked(chain, reads: list[bytes]):
    """Relay ``reads`` through ``chain`` after its request phase masked an email: the bytes
    sent and the exchange."""
    from gateways.relay import Exchange, _relay_sse_guarded

    exchange = Exchange("m")
    exchange.state = {}
    body = {"messages": [{"role": "user", "content": "mail jane@example.com"}]}
    asyncio.run(chain.run_request(body, exchange.state))
    sent: list[bytes] = []

    async def send(message):
        sent.append(message.get("body", b""))

    asyncio.run(_relay_sse_guarded(_Reads(reads), _Route(chain), send, exchange, [], lambda: 0))
    return b"".join(sent), exchange


def test_the_relay_sends_the_same_text_whether_a_stream_comes_in_one_read_or_many():
    chain = compile_chain([PII_ATTACHMENT], [])
    rng = random.Random(12)
    for _ in range(300):
        events = _carried_events(rng)
        stream = b"".join(event + b"\n\n" for event in events)
        results = []
        for reads in ([stream], [event + b"\n\n" for event in events]):
            sent, exchange = _relay_masked(chain, reads)
            out = [e + b"\n\n" for e in sent.split(b"\n\n") if e]
            assert out[-1] == b"data: [DONE]\n\n"
            results.append((_text(out), exchange.usage, exchange.guardrails))
        assert results[0] == results[1], events


def test_the_relay_settles_a_read_of_whole_events_in_one_pass():
    # A placeholder split in three: fed event by event, the middle event waits and is
    # dropped; settled in one pass, it goes out with empty text. The bytes tell the paths apart.
    chain = compile_chain([PII_ATTACHMENT], [])
    events = [sse(_chunk("to [EM")), sse(_chunk("A")), sse(_chunk("IL_0000] now")), b"data: [DONE]"]
    sent_by_path = []
    for reads in ([b"".join(e + b"\n\n" for e in events)], [e + b"\n\n" for e in events]):
        sent, exchange = _relay_masked(chain, reads)
        sent_by_path.append(sent)
        assert exchange.guardrails[-1]["action"] == "modified"
    one_pass, fed = sent_by_path
    texts = ("to ", "", "jane@example.com now")
    assert one_pass == b"".join(sse(_chunk(t)) + b"\n\n" for t in texts) + b"data: [DONE]\n\n"
    assert (
        fed
        == b"".join(sse(_chunk(t)) + b"\n\n" for t in ("to ", "jane@example.com now"))
        + b"data: [DONE]\n\n"
    )
