"""The interface between a streamed wire format and the request path: how a stream's reads are
cut into complete events, what JSON an event carries, and how an event is written back with
other JSON. Server-sent events (``sse.ServerSentEvents``) are one such format; a provider whose
API streams another way gives its own from its adapter (``stream_codec``)."""

from typing import Any


class StreamCodec:
    """One stream's events. A new instance per stream (it holds what a read left unfinished).

    Events are passed around as raw bytes, each with its own framing (for SSE, its blank
    line), so an event no step changes goes out exactly as the upstream sent it."""

    # Whether the raw bytes of an event show its text as JSON text, so a judge's
    # ``raw_scan`` may read them (false for formats that encode their payloads).
    scannable: bool = False

    def feed(self, chunk: bytes) -> bytes:
        """The complete events one read finishes (``b""`` when none), in one block."""
        raise NotImplementedError

    def rest(self) -> bytes:
        """What the stream ended with after its last complete event, made an event."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what the reads so far left unfinished."""
        raise NotImplementedError

    def next_event(self, events: bytes, pos: int) -> int:
        """Where the event that starts at ``pos`` of a block of complete events ends."""
        raise NotImplementedError

    def event_start(self, events: bytes, pos: int, at: int) -> int:
        """Where the event holding byte ``at`` starts (``pos`` being an event's start before
        it): for scannable codecs."""
        raise NotImplementedError

    def data(self, raw: bytes) -> Any:
        """The JSON an event carries (an object or an array), or None."""
        raise NotImplementedError

    def with_data(self, raw: bytes, data: Any) -> bytes:
        """``raw`` carrying ``data`` instead."""
        raise NotImplementedError

    def holding(self, events: bytes, marker: bytes) -> list[bytes]:
        """The events of a block that may carry usage (read from these): those whose bytes
        hold ``marker``, where a format shows its payloads as they are."""
        found = []
        pos, size = 0, len(events)
        while pos < size:
            end = self.next_event(events, pos)
            if events.find(marker, pos, end) != -1:
                found.append(events[pos:end])
            pos = end
        return found
