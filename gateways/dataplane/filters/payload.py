"""The payload log (``payload-log``; its parameters are in ``guardrails.catalog.payload``):
copies of the request body and of the answer the client got, PII redacted and cut to
``maxBytes``, in the usage record's details or as a JSON line on ``gatehouse.payload``.

The step sits right after the body is read, so it sees the request as the caller sent it
(before any guardrail changed it) and, since answers pass the steps in reverse order, the
answer as the caller got it. The copies are redacted once, when the call ends."""

import logging
from typing import Any

from gateways.dataplane.call import Call
from gateways.dataplane.chain import Filter, StreamFilter, UpstreamAnswer
from guardrails.catalog.payload import PayloadLog as PayloadLogPolicy

log = logging.getLogger("gatehouse.payload")
# Redaction looks this far past the cut, so a value the cut splits is still found whole.
LOOK_PAST = 256


class Copy:
    """The first bytes of a body, and how long it was."""

    __slots__ = ("data", "limit", "size")

    def __init__(self, limit: int):
        self.limit = limit + LOOK_PAST
        self.data = bytearray()
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += data[:room]


class CopyStream(StreamFilter):
    """Passes a stream's events on unchanged, copying them."""

    def __init__(self, copy: Copy):
        self.copy = copy

    async def on_events(self, events: bytes) -> bytes:
        self.copy.add(events)
        return events


class PayloadLog(Filter):
    name = "payload-log"

    def __init__(self, gateway: str, attachment: dict[str, Any]):
        self.gateway = gateway
        self.policy = PayloadLogPolicy.compile(attachment["params"])
        self.key = f"payload-log:{attachment.get('id', '')}"

    async def on_request(self, call: Call) -> None:
        copies = {}
        if self.policy.keep_request:
            copies["request"] = Copy(self.policy.max_bytes)
            copies["request"].add(call.body)
        if self.policy.keep_response:
            copies["response"] = Copy(self.policy.max_bytes)
        call.state[self.key] = copies
        return None

    async def on_response(self, call: Call, answer: UpstreamAnswer) -> None:
        copy = call.state.get(self.key, {}).get("response")
        if copy is not None:
            copy.add(answer.body)
        return None

    def on_stream(self, call: Call) -> StreamFilter | None:
        copy = call.state.get(self.key, {}).get("response")
        return CopyStream(copy) if copy is not None else None

    async def on_end(self, call: Call) -> None:
        copies = call.state.get(self.key)
        if not copies:
            return
        payload = {name: self.entry(copy) for name, copy in copies.items()}
        if self.policy.destination == "details":
            call.details = {**(call.details or {}), "payload": payload}
            return
        context = call.span.get_span_context() if call.span is not None else None
        fields = {
            "plane": "gateway",
            "gateway": self.gateway,
            "proxy": call.route.proxy,
            "key_id": call.key.id if call.key is not None else None,
            "method": call.method,
            "path": call.resource,
            "status": call.status,
            "trace_id": format(context.trace_id, "032x") if context and context.is_valid else None,
            **payload,
        }
        log.info("payload", extra=fields)

    def entry(self, copy: Copy) -> dict[str, Any]:
        """A body as kept: redacted text, its size, and whether it was cut."""
        redacted, found = self.policy.redact(bytes(copy.data))
        kept = redacted[: self.policy.max_bytes]
        return {
            "body": kept.decode(errors="ignore"),
            "bytes": copy.size,
            "truncated": copy.size > len(copy.data) or len(redacted) > len(kept),
            "redacted": found,
        }
