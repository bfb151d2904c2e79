"""Server-sent events as the relay sees them: reads of an upstream stream cut into complete
events (each ending with a blank line), and the JSON an event carries."""

from typing import Any

import orjson

EVENT_END = b"\n\n"
# An event longer than this without its blank line is not an SSE stream worth relaying.
MAX_EVENT = 1 << 20


class EventTooLarge(ValueError):
    """An event grew past ``MAX_EVENT`` without ending."""


class EventReader:
    """Cuts the reads of a stream into complete events: ``feed`` returns the complete events
    a read finishes (``b""`` when none), ``rest`` what was left when the stream ended.
    Line ends are normalised to ``\\n``."""

    __slots__ = ("buffer", "carriage")

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
        """What the stream ended with after its last complete event, as one event."""
        rest = self.buffer.strip(b"\r\n")
        self.buffer = b""
        return rest + EVENT_END if rest else b""


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


def events_holding(events: bytes, marker: bytes) -> list[bytes]:
    """The events among complete ``events`` whose bytes hold ``marker`` (each once): usage
    is read from these alone, since a read under load can hold a whole stream and usage
    rides on one or two of its events."""
    found = []
    at = events.find(marker)
    while at != -1:
        start = events.rfind(EVENT_END, 0, at)
        start = 0 if start == -1 else start + len(EVENT_END)
        end = events.find(EVENT_END, at)
        if end == -1:
            end = len(events)
        found.append(events[start:end])
        at = events.find(marker, end)
    return found
