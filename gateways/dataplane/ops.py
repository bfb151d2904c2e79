"""The gateway process's own endpoints under ``/_gatehouse/`` (proxy IDs cannot contain "_", so
they never shadow a proxy):

- ``healthz``: the process is alive (liveness: restart it when this fails);
- ``readyz``: it can serve (readiness: send it traffic while this passes): a snapshot is
  loaded, its registration token is accepted, it is not shutting down, and the rate-limit
  store answers where a limit refuses calls without it. The database is not required: a
  gateway keeps serving its snapshot while the database is away (the body says how old its
  configuration is);
- ``health``: alive, and the configuration revision it serves (kept for existing checks);
- ``metrics``: Prometheus (once the gateway has registration tokens, it asks for one).
"""

import orjson

from gateways import metrics
from gateways.dataplane.adapters import neutral_error_body
from gateways.dataplane.runtime import Snapshot, token_accepted

PREFIX = "_gatehouse"
JSON = b"application/json"


async def respond(
    send, status: int, body: bytes, *extra: tuple[bytes, bytes], content_type: bytes = JSON
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(scope, send, snapshot: Snapshot, rest: bytes, readiness=None) -> bool:
    """Answer an operational request; False when ``rest`` names none. ``readiness``: an
    async callable giving ``(ready, details)``."""
    if rest == b"/healthz":
        await respond(send, 200, b'{"status":"ok"}')
        return True
    if rest == b"/readyz" and readiness is not None:
        ready, details = await readiness()
        body = {"status": "ready" if ready else "unavailable", **details}
        await respond(send, 200 if ready else 503, orjson.dumps(body))
        return True
    if rest == b"/health":
        body = {"status": "ok", "gateway": snapshot.gateway, "revision": snapshot.revision}
        await respond(send, 200, orjson.dumps(body))
        return True
    if rest == b"/metrics":
        if snapshot.tokens_required and not token_accepted(
            bearer_token(scope["headers"]), snapshot.token_hashes
        ):
            message = "The metrics need one of this gateway's registration tokens."
            await respond(send, 401, neutral_error_body(401, "invalid_token", message))
            return True
        await respond(send, 200, metrics.exposition(), content_type=metrics.CONTENT_TYPE)
        return True
    return False


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None
