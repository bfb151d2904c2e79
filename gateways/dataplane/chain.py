"""The filter interface and the chain a route's requests pass, in the spirit of Envoy's HTTP
filter chains: every step of a request is a small ``Filter`` with request and response hooks
that continue, modify the call, or stop it with a ``Refusal``.

A chain is compiled once per deployment (``gateways.dataplane.filters.compile_chain``) and
holds, per hook, only the filters that have it, so a step a route does not need costs nothing.
Request hooks run in chain order; response and stream hooks in reverse order (the step
nearest the upstream sees the answer first); ``on_end`` runs in reverse order however the call
ended (a filter whose request hook never ran finds nothing of its own to finish).
"""

from typing import Any

import orjson

from gateways.dataplane.call import Call, Refusal
from gateways.dataplane.tracing import start_child


class UpstreamAnswer:
    """A complete (not streamed) upstream answer as the response hooks see it: the bytes, and
    the parsed JSON on first use. A hook that rewrites it sets new ``body`` bytes (or changes
    ``parsed`` and says ``changed()``); the relay sends what is there at the end."""

    __slots__ = ("_parsed", "body", "content_type", "reparse", "status")

    def __init__(self, status: int, content_type: str, body: bytes):
        self.status = status
        self.content_type = content_type
        self.body = body
        self._parsed: Any = None
        self.reparse = True  # ``parsed`` must be read from ``body`` again

    @property
    def parsed(self) -> Any:
        """The body as JSON (parsed once, on first use); raises ``orjson.JSONDecodeError``."""
        if self.reparse:
            self._parsed = orjson.loads(self.body)
            self.reparse = False
        return self._parsed

    def replace(self, body: bytes) -> None:
        """Send ``body`` instead; a later reader of ``parsed`` parses it."""
        self.body = body
        self.reparse = True

    def changed(self) -> None:
        """``parsed`` was changed in place: serialise it as the new body."""
        self.body = orjson.dumps(self._parsed)


class StreamFilter:
    """One filter's view of one streamed answer. ``on_events`` receives complete SSE events
    (each ending with a blank line, as bytes, several at once when they arrived together) and
    returns the bytes to pass on, possibly holding some back; ``on_end`` returns what it still
    holds when the upstream finished. Either may stop the stream by setting ``stop`` to the
    refusal that ends it (sent as an error event in the API's shape)."""

    stop: Refusal | None = None

    async def on_events(self, events: bytes) -> bytes:
        return events

    async def on_end(self) -> bytes:
        return b""


class Filter:
    """One step of a request. Override the hooks the step needs; all of them are async.

    - ``on_request(call)``: before the upstream is called. None goes on; a ``Refusal``
      answers instead (no later step runs and the upstream is not called).
    - ``on_response(call, answer)``: a complete upstream answer, before it is sent. None
      goes on (the hook may have rewritten ``answer``); a ``Refusal`` answers instead.
    - ``on_stream(call)``: a ``StreamFilter`` for a streamed answer, or None.
    - ``on_end(call)``: after the answer went out, or the call stopped some other way.
    """

    name = "filter"

    async def on_request(self, call: Call) -> Refusal | None:
        return None

    async def on_response(self, call: Call, answer: UpstreamAnswer) -> Refusal | None:
        return None

    def on_stream(self, call: Call) -> StreamFilter | None:
        return None

    async def on_end(self, call: Call) -> None:
        return None

    def report(self, route: Any, health: Any) -> list[dict[str, Any]]:
        """What operators should see of the step's targets (open circuits, suspended models:
        ``health.circuit_report`` rows); most steps have none."""
        return []


def _overrides(step: Filter, hook: str) -> bool:
    return getattr(type(step), hook) is not getattr(Filter, hook)


class FilterChain:
    """A route's filters in order, with each hook's list made once."""

    def __init__(self, filters: list[Filter]):
        self.filters = tuple(filters)
        self.request = tuple(f for f in self.filters if _overrides(f, "on_request"))
        self.response = tuple(f for f in reversed(self.filters) if _overrides(f, "on_response"))
        self.stream = tuple(f for f in reversed(self.filters) if _overrides(f, "on_stream"))
        self.ending = tuple(f for f in reversed(self.filters) if _overrides(f, "on_end"))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.filters]

    async def run_request(self, call: Call) -> Refusal | None:
        """Each request hook in order until one refuses."""
        if call.span is not None:
            return await self.traced(call, self.request, "on_request")
        for step in self.request:
            refusal = await step.on_request(call)
            if refusal is not None:
                return refusal
        return None

    async def run_response(self, call: Call, answer: UpstreamAnswer) -> Refusal | None:
        if call.span is not None:
            return await self.traced(call, self.response, "on_response", answer)
        for step in self.response:
            refusal = await step.on_response(call, answer)
            if refusal is not None:
                return refusal
        return None

    async def traced(self, call: Call, steps: tuple, hook: str, *args: Any) -> Refusal | None:
        """The hooks with a span each (tracing is on)."""
        for step in steps:
            span = start_child(call.tracer, call.span, f"{step.name} {hook[3:]}")
            try:
                refusal = await getattr(step, hook)(call, *args)
                if refusal is not None:
                    span.set_attribute("gatehouse.refusal", refusal.code)
            finally:
                span.end()
            if refusal is not None:
                return refusal
        return None

    def open_stream(self, call: Call) -> list[StreamFilter]:
        """The stream filters of one streamed answer, nearest the upstream first."""
        opened = []
        for step in self.stream:
            stream = step.on_stream(call)
            if stream is not None:
                opened.append(stream)
        return opened

    async def run_end(self, call: Call) -> None:
        for step in self.ending:
            await step.on_end(call)
