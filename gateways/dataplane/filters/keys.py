"""Key authentication: the caller's API key, from the header (or query parameter) the proxy
reads it from, checked against the snapshot's key hashes in constant time."""

import hmac

from gateways.dataplane.call import Call, Refusal
from gateways.dataplane.chain import Filter
from gateways.dataplane.paths import take_query_param
from gateways.dataplane.routes import Route, key_of_other_gateway
from proxies.crypto import hash_secret

MISSING = Refusal(401, "invalid_api_key", "Missing API key.", "missing_key")
INVALID = Refusal(401, "invalid_api_key", "Invalid API key.", "invalid_key")
EXPIRED = Refusal(401, "expired_api_key", "This API key has expired.", "expired_key")
ELSEWHERE = Refusal(403, "key_not_allowed", "This API key is not allowed on this gateway.")


class KeyAuth(Filter):
    """Who is calling: sets ``call.key``, or refuses with 401 / 403."""

    name = "key-auth"

    def __init__(self, route: Route):
        self.proxy = route.proxy
        self.in_query = route.key_in_query
        self.header = route.key_name
        self.prefix = route.key_prefix
        # Another header the API's own SDKs may carry the key in (Anthropic's SDKs send
        # ``Authorization: Bearer`` too), honoured while the proxy reads the native one.
        self.alternate = route.key_alternate

    async def on_request(self, call: Call) -> Refusal | None:
        value, prefix = self.presented(call)
        if not value:
            return MISSING
        secret = (
            value[len(prefix) :] if prefix and value[: len(prefix)].lower() == prefix else value
        )
        secret = secret.strip()
        if not secret:
            return INVALID
        digest = hash_secret(secret)
        key = call.snapshot.keys.get(digest)
        if key is None or not hmac.compare_digest(key.key_hash, digest):
            if key_of_other_gateway(call.snapshot.foreign_keys, secret):
                return ELSEWHERE
            return INVALID
        if key.proxy != self.proxy:
            return INVALID
        call.key = key
        if key.expires_at is not None and key.expires_at <= call.wall:
            return EXPIRED
        return None

    def presented(self, call: Call) -> tuple[str | None, str]:
        """The key as presented and the prefix it may carry (``Bearer `` ...)."""
        if self.in_query:
            value, call.query = take_query_param(call.query, self.header)
            return value, self.prefix
        alternate = self.alternate
        found = other = None
        for name, value in call.scope["headers"]:
            if name == self.header:
                found = value
            elif alternate is not None and name == alternate[0]:
                other = value
        if found:
            return found.decode("latin-1"), self.prefix
        if other:
            return other.decode("latin-1"), alternate[1]
        return None, self.prefix
