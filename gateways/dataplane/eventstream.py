"""AWS event streams (``application/vnd.amazon.eventstream``) as the request path sees them:
binary frames, each a message with headers (``:message-type``, ``:event-type``) and a payload,
decoded with botocore's ``EventStreamBuffer`` and written back with AWS's serializer (from
``amazon-transcribe``; botocore only decodes).

An event's JSON is shown the way AWS's SDKs show it, ``{event type: payload}``
(``{"contentBlockDelta": {"delta": {"text": "Hi"}, ...}}``); frames that are not events
(exceptions) carry none. A frame written back keeps its headers, in their order."""

from typing import Any

import orjson
from amazon_transcribe.eventstream import EventStreamMessageSerializer
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from gateways.dataplane.sse import MAX_EVENT, EventTooLarge
from gateways.dataplane.streams import StreamCodec

# A frame: its total length and its headers' length (two big-endian 32-bit integers), the
# CRC-32 of those, the headers, the payload, the CRC-32 of all before it.
PRELUDE = 12
SMALLEST_FRAME = PRELUDE + 4
SERIALIZER = EventStreamMessageSerializer()


class MalformedFrame(EventTooLarge):
    """A frame whose length cannot be: the stream is not one the gateway can read."""


def frame_length(data: bytes, pos: int) -> int:
    """The total length of the frame starting at ``pos`` (its first four bytes say it)."""
    return int.from_bytes(data[pos : pos + 4], "big")


def headers_end(data: bytes, pos: int) -> int:
    """Where the headers of the frame starting at ``pos`` end (the next four bytes say how
    long they are)."""
    return pos + PRELUDE + int.from_bytes(data[pos + 4 : pos + 8], "big")


def decode(raw: bytes) -> EventStreamMessage | None:
    """The message one whole frame holds (checksums checked), or None when it is broken."""
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    try:
        return next(buffer)
    except (ParserError, StopIteration):
        return None


class EventStream(StreamCodec):
    """One AWS event stream. Frames are relayed as the upstream framed them; only a frame a
    step rewrites is encoded anew."""

    scannable = False  # payloads may be encoded (Bedrock's chunks are base64)

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.buffer + chunk if self.buffer else chunk
        pos, size = 0, len(data)
        while size - pos >= 4:
            length = frame_length(data, pos)
            if length < SMALLEST_FRAME:
                raise MalformedFrame("A frame of the upstream's event stream is malformed.")
            if length > MAX_EVENT:
                raise EventTooLarge("An event of the upstream's stream is too large.")
            if pos + length > size:
                break
            pos += length
        self.buffer = data[pos:]
        return data[:pos]

    def rest(self) -> bytes:
        # An unfinished frame is no event: what the stream ended with is dropped.
        self.buffer = b""
        return b""

    def reset(self) -> None:
        self.buffer = b""

    def next_event(self, events: bytes, pos: int) -> int:
        return pos + frame_length(events, pos)

    def data(self, raw: bytes) -> Any:
        message = decode(raw)
        if message is None or message.headers.get(":message-type") != "event":
            return None
        kind = message.headers.get(":event-type")
        if not isinstance(kind, str):
            return None
        try:
            payload = orjson.loads(message.payload) if message.payload else {}
        except orjson.JSONDecodeError:
            return None
        return {kind: payload}

    def with_data(self, raw: bytes, data: Any) -> bytes:
        ((kind, payload),) = data.items()
        message = decode(raw)
        headers = {**message.headers, ":event-type": kind}
        return SERIALIZER.serialize(headers, orjson.dumps(payload))


def exception_frame(kind: str, payload: bytes) -> bytes:
    """A frame ending a stream with an error of type ``kind`` (``validationException`` ...),
    which AWS's SDKs raise with the payload's ``message``."""
    headers = {
        ":message-type": "exception",
        ":exception-type": kind,
        ":content-type": "application/json",
    }
    return SERIALIZER.serialize(headers, payload)
