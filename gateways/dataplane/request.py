"""What the gateway takes from a request before its route's filters run: the canonical path
and the resource it names, and the headers fit to forward upstream."""

from gateways.dataplane.call import Call, Refusal
from gateways.dataplane.paths import BadPath, canonical_path, clean_query
from gateways.dataplane.relay import HOP_BY_HOP

# Responses are requested uncompressed so usage can be read from them. What the client's side
# says about the client (``Forwarded``, ``X-Real-IP``; ``X-Forwarded-*`` by prefix) and its
# cookies are its business with the gateway, not the upstream's.
REQUEST_DROP = HOP_BY_HOP | {b"accept-encoding", b"forwarded", b"x-real-ip", b"cookie"}
# Headers that carry a caller's key to one API or another: never forwarded (the proxy's own
# key header, whatever its name, is not either).
KEY_HEADERS = frozenset({b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key"})
IDENTITY = ("accept-encoding", "identity")


def resolve_path(call: Call, rest: bytes) -> Refusal | None:
    """Fill in the call's resource from the raw path after the proxy ID: 400 for a path that
    is not canonical, 404 for one outside the proxy's context or resources."""
    route = call.route
    try:
        path = canonical_path(rest, route.adapter.opaque_segment_after)
        call.query = clean_query(call.scope["query_string"])
    except BadPath as exc:
        return Refusal(400, "invalid_path", str(exc))
    parts = path.resource(route.context_segments)
    if parts is None or not route.allows(call.method, parts[0]):
        shown = "/" + "/".join(path.checked)
        call.resource = shown
        return Refusal(404, "not_found", f"No resource {call.method} {shown}.")
    call.resource, call.raw_resource = parts
    call.opaque = path.opaque
    return None


def forward_headers(call: Call) -> Refusal | None:
    """The request headers fit to forward (``call.headers``), the body's declared length and
    type; 400 for a header value that is not UTF-8 (it would be re-encoded on the way)."""
    key_header = call.route.key_name
    headers = [IDENTITY]
    listed: frozenset[bytes] = frozenset()
    for name, value in call.scope["headers"]:
        if name in REQUEST_DROP or name.startswith(b"x-forwarded-"):
            if name == b"content-length":
                call.content_length = int(value) if value.isdigit() else None
            elif name == b"connection":
                listed = listed.union(connection_options(value))
            continue
        if name in KEY_HEADERS or name == key_header:
            continue
        if name == b"content-type":
            call.content_type = value
        try:
            headers.append((name.decode("latin-1"), value.decode("utf-8")))
        except UnicodeDecodeError:
            message = f"The value of header '{name.decode('latin-1')}' is not valid UTF-8."
            return Refusal(400, "invalid_header", message)
    if listed:
        # Hop-by-hop headers the client named in ``Connection`` stop here (RFC 9110 7.6.1).
        headers = [(n, v) for n, v in headers if n.encode("latin-1") not in listed]
    call.headers = headers
    return None


def connection_options(value: bytes) -> frozenset[bytes]:
    """The header names a ``Connection`` header lists."""
    return frozenset(token.strip().lower() for token in value.split(b",") if token.strip())
