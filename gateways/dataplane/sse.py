"""Server-sent events as the request path sees them: reads cut into complete events (each
ending with a blank line), the JSON an event's data lines carry, and an event written back
with other JSON."""

from typing import Any

import orjson

from gateways.dataplane.streams import StreamCodec

EVENT_END = b"\n\n"
# An event longer than this without its blank line is not an SSE stream worth relaying.
MAX_EVENT = 1 << 20


class EventTooLarge(ValueError):
    """An event grew past ``MAX_EVENT`` without ending."""


class ServerSentEvents(StreamCodec):
    """A ``text/event-stream``. Line ends are normalised to ``\\n``."""

    scannable = True  # data lines carry their JSON as it is

    def __init__(self) -> None:
        self.buffer = b""
        self.carriage = False  # the stream uses "\r\n" line ends

    def feed(self, chunk: bytes) -> bytes:
        if self.carriage or b"\r" in chunk:
            self.carriage = True
            data = (self.buffer + chunk).replace(b"\r\n", b"\n")
            if data.endswith(b"\r"):  # a "\r\n" split between two reads
                data, self.buffer = data[:-1], b"\r"
            else:
                self.buffer = b""
        else:
            data = self.buffer + chunk if self.buffer else chunk
            self.buffer = b""
        if data.endswith(EVENT_END):
            return data
        cut = data.rfind(EVENT_END)
        if cut == -1:
            if len(data) > MAX_EVENT:
                raise EventTooLarge("An event of the upstream's stream is too large.")
            self.buffer = data + self.buffer
            return b""
        cut += len(EVENT_END)
        self.buffer = data[cut:] + self.buffer
        return data[:cut]

    def rest(self) -> bytes:
        rest = self.buffer.strip(b"\r\n")
        self.buffer = b""
        return rest + EVENT_END if rest else b""

    def reset(self) -> None:
        self.buffer = b""

    def next_event(self, events: bytes, pos: int) -> int:
        return events.find(EVENT_END, pos) + len(EVENT_END)

    def event_start(self, events: bytes, pos: int, at: int) -> int:
        start = events.rfind(EVENT_END, pos, at)
        return pos if start == -1 else start + len(EVENT_END)

    def holding(self, events: bytes, marker: bytes) -> list[bytes]:
        # From one occurrence of the marker to the next: a read under load can hold a whole
        # stream, and usage rides on one or two of its events.
        found = []
        at = events.find(marker)
        while at != -1:
            start = self.event_start(events, 0, at)
            end = events.find(EVENT_END, at)
            end = len(events) if end == -1 else end + len(EVENT_END)
            found.append(events[start:end])
            at = events.find(marker, end)
        return found

    def data(self, raw: bytes) -> Any:
        return event_json(raw.rstrip(b"\n"))

    def with_data(self, raw: bytes, data: Any) -> bytes:
        encoded = orjson.dumps(data)
        raw = raw.rstrip(b"\n")
        if b"\n" not in raw:
            return b"data: " + encoded + EVENT_END  # the usual event: one data line
        lines = [line for line in raw.split(b"\n") if not line.startswith(b"data:")]
        lines.append(b"data: " + encoded)
        return b"\n".join(lines) + EVENT_END


def event_json(raw: bytes) -> Any:
    """The JSON data of one SSE event (without its blank line): an object or an array, or
    None (no data, ``[DONE]``, not JSON)."""
    if raw.startswith(b"data:") and b"\n" not in raw:
        data = raw[5:].strip()  # the usual event: one data line
        if data[:1] not in (b"{", b"["):
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    data = None
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data = value if data is None else data + b"\n" + value
    if data is None:
        return None
    data = data.strip()
    if not data or data[:1] not in b"{[":
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
