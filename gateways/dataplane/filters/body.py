"""The request body: read within the size limit, parsed once when it is JSON, and the model
it (or the path) names."""

import orjson

from gateways.dataplane.call import Call, Outcome, Refusal
from gateways.dataplane.chain import Filter
from gateways.dataplane.routes import Route

NOT_JSON = Refusal(400, "invalid_request", "The request body is not valid JSON.")
GONE = Refusal(
    499,
    "client_disconnected",
    "The client disconnected before its request body arrived.",
    outcome=Outcome.CANCELLED,
)


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class Body(Filter):
    """Reads the body (413 past ``max_bytes``, declared or counted), parses JSON bodies (400
    when they are not) and sets ``call.model``."""

    name = "body"

    def __init__(self, route: Route, max_bytes: int):
        self.adapter = route.adapter
        self.max_bytes = max_bytes
        self.too_large = Refusal(
            413, "request_too_large", f"The request body is larger than {max_bytes} bytes."
        )

    async def on_request(self, call: Call) -> Refusal | None:
        if call.content_length is not None and call.content_length > self.max_bytes:
            return self.too_large
        try:
            body = await read_body(call.receive, self.max_bytes)
        except ClientGone:
            return GONE
        if body is None:
            return self.too_large
        call.body = body
        if body and b"json" in call.content_type:
            try:
                call.parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                return NOT_JSON
        call.model = self.adapter.request_model(call.resource, call.parsed, call.opaque)
        return None


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return parts[0] if len(parts) == 1 else b"".join(parts)
