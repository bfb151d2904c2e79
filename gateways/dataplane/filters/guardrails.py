"""Guardrails and policies on the request path: the proxy's and the provider's chain
(``guardrails.engine``) on the request body, on a complete answer and on a streamed one."""

from collections.abc import Callable
from typing import Any

import orjson

from gateways.dataplane.adapters import ProviderAdapter
from gateways.dataplane.call import Call, Outcome, Refusal
from gateways.dataplane.chain import Filter, StreamFilter, UpstreamAnswer
from gateways.dataplane.streams import StreamCodec
from guardrails.engine import Chain, Intervention, StreamGuard

NOT_JSON = Refusal(
    415,
    "unsupported_media_type",
    "This proxy's guardrails inspect JSON request bodies; the body is not JSON.",
)
CANNOT_INSPECT = Refusal(
    502,
    "guardrail_cannot_inspect",
    "The upstream response is neither JSON nor a server-sent event stream, so this proxy's "
    "response guardrails cannot inspect it.",
    outcome=Outcome.FAILED,
)
BROKEN = (
    "This proxy's guardrails could not be loaded, so it serves no requests; fix the "
    "guardrail settings and deploy it again."
)


def guardrail_reason(intervention: Intervention) -> str:
    """The usage record's reason: ``guardrail_intervened`` for a 422, else the error type
    (``prompt_template_error``, ``guardrail_error`` ...)."""
    if intervention.status == 422:
        return "guardrail_intervened"
    return (intervention.type or "guardrail_error").lower()[:64]


def intervention_refusal(adapter: ProviderAdapter, intervention: Intervention) -> Refusal:
    """A guardrail's intervention as the answer, in the called API's error shape."""
    return Refusal(
        status=intervention.status,
        code=guardrail_reason(intervention),
        message=intervention.message,
        outcome=Outcome.FAILED if intervention.status >= 500 else Outcome.REJECTED,
        body=adapter.guardrail_error_body(intervention),
    )


class Guardrails(Filter):
    """Runs the deployment's guardrail chain: the request phase on the body before it is
    forwarded, the response phase on a successful answer before it is sent."""

    name = "guardrails"

    def __init__(self, adapter: ProviderAdapter, chain: Chain):
        self.adapter = adapter
        self.chain = chain

    async def on_request(self, call: Call) -> Refusal | None:
        if not self.chain.has_request or not call.body:
            return None
        if call.parsed is None:
            # Whatever the declared type, a body the guardrails must see is JSON.
            try:
                call.parsed = orjson.loads(call.body)
            except orjson.JSONDecodeError:
                return NOT_JSON
        result = await self.chain.run_request(call.parsed, call.state)
        call.note_guardrails(result.events)
        if result.intervention is not None:
            return intervention_refusal(self.adapter, result.intervention)
        if result.modified:
            call.parsed = result.body
            call.body_changed = True
        return None

    async def on_response(self, call: Call, answer: UpstreamAnswer) -> Refusal | None:
        if not self.chain.has_response or answer.status >= 300 or not answer.body:
            return None
        try:
            answer.parsed  # noqa: B018 (parsed here so that a body that is not JSON is refused)
        except orjson.JSONDecodeError:
            return CANNOT_INSPECT
        result = await self.chain.run_response(answer, call.state)
        call.note_guardrails(result.events)
        if result.intervention is not None:
            return intervention_refusal(self.adapter, result.intervention)
        return None

    def on_stream(self, call: Call) -> StreamFilter | None:
        if not self.chain.has_response:
            return None
        guard = self.chain.stream(call.state)
        return GuardrailStream(self.adapter, call.codec, guard, call.note_guardrails)


class Unavailable(Filter):
    """The chain of a deployment whose guardrails could not be compiled: it serves nothing
    rather than serve unguarded."""

    name = "guardrails-unavailable"
    refusal = Refusal(503, "guardrail_unavailable", BROKEN, "guardrail_config_error")

    async def on_request(self, call: Call) -> Refusal | None:
        return self.refusal


class UpstreamRefused(Filter):
    """The chain of a route whose upstream is at an address this gateway may not contact
    (loopback, link-local, private, outside ``GATEHOUSE_ALLOWED_PRIVATE_NETWORKS``)."""

    name = "upstream-refused"

    def __init__(self, reason: str):
        self.refusal = Refusal(
            502,
            "upstream_not_allowed",
            "This proxy's upstream is at an address the gateway may not contact.",
            outcome=Outcome.FAILED,
        )
        self.reason = reason

    async def on_request(self, call: Call) -> Refusal | None:
        return self.refusal


class GuardrailStream(StreamFilter):
    """Turns upstream stream events into the events the client may see.

    Events whose text the guard would pass unchanged (``StreamGuard.raw_scan``, where the
    stream's format shows text in its raw bytes) go out as they came, undecoded. Events
    without text pass until the first text event; from then on, text events wait in
    ``pending`` until the guard releases text: the released text (possibly rewritten, e.g.
    placeholders restored) goes out in the first waiting text event, the other waiting text
    events are dropped (their text is part of it or still held), and waiting events without
    text follow in their order. So a stream's closing events (``finish_reason``,
    ``content_block_stop``, ``[DONE]``) always come after the last released text. At the end
    the guard's final release goes out in the last text event's shape."""

    def __init__(
        self,
        adapter: ProviderAdapter,
        codec: StreamCodec,
        guard: StreamGuard,
        note: Callable[[list[dict[str, str]]], None],
    ):
        self.adapter = adapter
        self.codec = codec
        self.guard = guard
        self.note = note  # takes what each policy did, for the usage row (once, at the end)
        self.stop: Refusal | None = None
        # (raw event, its parsed JSON or None when it carries no text)
        self.pending: list[tuple[bytes, Any]] = []
        self.last: tuple[bytes, Any] | None = None  # the latest text event seen
        self.texts = 0  # text events in ``pending``
        # The text of the only text event in ``pending``: released unchanged, that event
        # goes out as the upstream sent it.
        self.verbatim: str | None = None

    async def on_events(self, events: bytes) -> bytes:
        codec = self.codec
        out: list[bytes] = []
        pos, size = 0, len(events)
        while pos < size:
            if not self.pending and codec.scannable:
                # Everything before the event holding the first byte some judge may need
                # goes out as it came.
                hit = self.guard.raw_scan(events, pos)
                if hit >= size:
                    out.append(events[pos:])
                    break
                start = codec.event_start(events, pos, hit)
                if start > pos:
                    out.append(events[pos:start])
                    pos = start
            end = codec.next_event(events, pos)
            raw = events[pos:end]
            pos = end
            if await self.event(raw, out):
                break
        return b"".join(out)

    async def event(self, raw: bytes, out: list[bytes]) -> bool:
        """Take one event; True when the guard stopped the stream."""
        parsed = self.codec.data(raw)
        text = self.adapter.stream_text(parsed) if parsed is not None else None
        if text is None:
            if self.last is None:
                out.append(raw)
            else:
                self.pending.append((raw, None))
            return False
        released, intervention = await self.guard.feed(text)
        if intervention is not None:
            return self.stopped(intervention)
        self.last = (raw, parsed)
        self.pending.append((raw, parsed))
        self.verbatim = text if not self.texts else None
        self.texts += 1
        if released:
            self.flush(released, out)
        return False

    async def on_end(self) -> bytes:
        released, intervention = await self.guard.finish()
        if intervention is not None:
            self.stopped(intervention)
            return b""
        self.note(self.guard.events)
        out: list[bytes] = []
        if released and self.last is not None and all(p is None for _, p in self.pending):
            # Text released at the end goes out in the shape of the last text event.
            self.pending.insert(0, self.last)
            self.verbatim = None
        if released or self.pending:
            self.flush(released, out)
        return b"".join(out)

    def stopped(self, intervention: Intervention) -> bool:
        self.pending = []
        self.stop = intervention_refusal(self.adapter, intervention)
        self.note(self.guard.events)
        return True

    def flush(self, released: str, out: list[bytes]) -> None:
        placed = False
        for raw, parsed in self.pending:
            if parsed is None:
                out.append(raw)
            elif not placed and released:
                if released == self.verbatim:
                    out.append(raw)
                else:
                    event = self.adapter.with_stream_text(parsed, released)
                    out.append(self.codec.with_data(raw, event))
                placed = True
        self.pending = []
        self.texts, self.verbatim = 0, None
