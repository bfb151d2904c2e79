"""The AWS event-stream codec: reads cut into whole frames, the JSON a frame carries as AWS's
SDKs show it, and a frame written back that botocore decodes."""

import base64

import orjson
import pytest
from amazon_transcribe.eventstream import EventStreamMessageSerializer

from gateways.dataplane.adapters.bedrock import BedrockEventStream
from gateways.dataplane.eventstream import EventStream, MalformedFrame

SERIALIZER = EventStreamMessageSerializer()


def frame(kind: str, payload: dict) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return SERIALIZER.serialize(headers, orjson.dumps(payload))


DELTA = frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
STOP = frame("messageStop", {"stopReason": "end_turn"})


def test_reads_split_anywhere_give_back_whole_frames():
    stream = DELTA + STOP
    codec = EventStream()
    out = b"".join(codec.feed(stream[i : i + 7]) for i in range(0, len(stream), 7))
    assert out == stream


def test_an_unfinished_frame_waits_for_the_next_read():
    codec = EventStream()
    assert codec.feed(DELTA[:-1]) == b""
    assert codec.feed(DELTA[-1:]) == DELTA


def test_an_events_json_is_keyed_by_its_type():
    assert EventStream().data(DELTA) == {
        "contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}
    }


def test_a_rewritten_frame_decodes_with_its_new_json_and_the_same_headers():
    codec = EventStream()
    event = codec.data(DELTA)
    event["contentBlockDelta"]["delta"]["text"] = "Hello"
    assert codec.data(codec.with_data(DELTA, event)) == event


def test_a_frame_length_no_frame_can_have_is_refused():
    with pytest.raises(MalformedFrame):
        EventStream().feed(b"\x00\x00\x00\x03garbage")


def test_a_bedrock_chunk_reads_as_the_models_own_event():
    inner = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    chunk = frame("chunk", {"bytes": base64.b64encode(orjson.dumps(inner)).decode()})
    assert BedrockEventStream().data(chunk) == {"chunk": {"bytes": inner}}


def test_a_rewritten_bedrock_chunk_is_base64_again():
    inner = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}
    chunk = frame("chunk", {"bytes": base64.b64encode(orjson.dumps(inner)).decode()})
    codec = BedrockEventStream()
    rewritten = codec.with_data(chunk, {"chunk": {"bytes": {**inner, "delta": {"text": "Yo"}}}})
    decoded = EventStream().data(rewritten)["chunk"]["bytes"]
    assert orjson.loads(base64.b64decode(decoded))["delta"] == {"text": "Yo"}
