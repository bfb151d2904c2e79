"""Compiled routes and the checks run on every request: which proxy a path names, whether the
method and resource are exposed, and whether the caller's key may use it. Pure in-memory
lookups; nothing here touches the database."""

import hmac
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientTimeout
from yarl import URL

from gateways.dataplane.adapters import ProviderAdapter
from guardrails.engine import EMPTY_CHAIN, Chain
from guardrails.limits import NO_LIMITS, LimitSet
from proxies.crypto import hash_secret
from proxies.resources import path_pattern

_CACHE_LIMIT = 2048


class ResourceMatcher:
    """Matches ``(method, path)`` against resource rows; ``{param}`` is one segment."""

    __slots__ = ("_exact", "_patterns")

    def __init__(self, rows: list[dict[str, str]]):
        self._exact: set[tuple[str, str]] = set()
        self._patterns: list[tuple[str, re.Pattern]] = []
        for row in rows or []:
            method = str(row.get("method", "*") or "*").upper()
            path = str(row.get("path", ""))
            if "{" in path or "*" in path:
                self._patterns.append((method, re.compile(path_pattern(path) + r"\Z")))
            else:
                self._exact.add((method, path))

    def matches(self, method: str, path: str) -> bool:
        exact = self._exact
        if (method, path) in exact or ("*", path) in exact:
            return True
        for allowed, pattern in self._patterns:
            if (allowed == "*" or allowed == method) and pattern.match(path):
                return True
        return False


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    key_hash: str
    proxy: str
    expires_at: float | None


class Route:
    """Everything needed to serve one deployed proxy, computed once per snapshot."""

    __slots__ = (
        "_decisions",
        "access",
        "access_allows",
        "adapter",
        "allowed_models",
        "auth_headers",
        "chain",
        "chain_error",
        "context_segments",
        "deployment_header",
        "deployment_id",
        "deployment_name",
        "key_alternate",
        "key_in_query",
        "key_name",
        "key_prefix",
        "limits",
        "needs_model",
        "provider",
        "proxy",
        "resources",
        "timeout",
        "upstream_base",
    )

    def __init__(
        self,
        deployment: dict[str, Any],
        credential: str,
        adapter: ProviderAdapter,
        chain: Chain = EMPTY_CHAIN,
        chain_error: str | None = None,
        limits: LimitSet = NO_LIMITS,
    ):
        snapshot = deployment["snapshot"]
        proxy, provider = snapshot["proxy"], snapshot["provider"]
        self.proxy: str = proxy["id"]
        self.provider: str = provider["id"]
        self.deployment_id: str = deployment["id"]
        self.deployment_name: str = deployment.get("name") or deployment["id"]
        self.deployment_header = (b"x-gatehouse-deployment", self.deployment_name.encode())
        context = (proxy.get("context") or "/").strip("/")
        # The segments an invoke path must start with (see gateways.dataplane.paths).
        self.context_segments: tuple[str, ...] = tuple(context.split("/")) if context else ()
        # No resources listed: the proxy exposes every path the provider allows.
        resources = proxy.get("resources") or []
        self.resources = ResourceMatcher(resources) if resources else None
        access = provider.get("access_control") or {}
        self.access = ResourceMatcher(access.get("exceptions") or [])
        self.access_allows: bool = access.get("mode", "allow_all") == "allow_all"
        self._decisions: dict[tuple[str, str], bool] = {}
        self.adapter = adapter
        # The compiled guardrail chain; when it could not be compiled, ``chain_error`` says
        # why and the route refuses every request rather than serve it unguarded.
        self.chain = chain
        self.chain_error = chain_error
        # The proxy's and the provider's rate limits; None (one identity check per request)
        # when there are none.
        self.limits: LimitSet | None = limits if limits else None
        # In its encoded form: the raw resource path is appended to it as it stands.
        base = (provider.get("upstream_url") or "").rstrip("/")
        self.upstream_base: str = str(URL(base)) if base else ""
        auth = provider.get("upstream_auth") or {}
        self.auth_headers = adapter.auth_headers(
            auth.get("header", ""), auth.get("prefix", ""), credential
        )
        self.allowed_models = frozenset(provider.get("allowed_models") or ())
        self.needs_model = bool(self.allowed_models)
        timeouts = provider.get("timeouts") or {}
        self.timeout = ClientTimeout(
            total=None,
            sock_connect=float(timeouts.get("connect") or 10.0),
            sock_read=float(timeouts.get("read") or 120.0),
        )
        inbound = proxy.get("inbound_key") or {}
        self.key_in_query: bool = inbound.get("in") == "query"
        name = inbound.get("name") or "Authorization"
        self.key_name: bytes | str = name if self.key_in_query else name.lower().encode("latin-1")
        self.key_prefix: str = (inbound.get("prefix") or "").lower()
        alternate = adapter.alternate_key_header
        if self.key_in_query or self.key_name != adapter.native_key_header:
            alternate = None
        self.key_alternate: tuple[bytes, str] | None = alternate

    def allows(self, method: str, resource: str) -> bool:
        """Method + resource exposed by the proxy and permitted by the provider's access
        control. Decisions are cached per route (bounded) so hot paths skip the regexes."""
        decision = self._decisions.get((method, resource))
        if decision is None:
            decision = (self.resources is None or self.resources.matches(method, resource)) and (
                self.access.matches(method, resource) != self.access_allows
            )
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            self._decisions[(method, resource)] = decision
        return decision


def find_key(keys: dict[str, KeyRecord], secret: str) -> KeyRecord | None:
    """The key record for a presented secret: hashed lookup, then a constant-time compare."""
    digest = hash_secret(secret)
    record = keys.get(digest)
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        return None
    return record


def strip_key_prefix(value: str, prefix: str) -> str:
    if prefix and value[: len(prefix)].lower() == prefix:
        value = value[len(prefix) :]
    return value.strip()


# (HTTP status, error code, message for the caller, reason recorded in usage when not the code)
Refusal = tuple[int, str, str, str]


def authenticate(
    snapshot, route: Route, key_value, prefix: str, now: float
) -> tuple[KeyRecord | None, Refusal | None]:
    """The caller's key record, or why the request is refused (401 / 403)."""
    if not key_value:
        return None, (401, "invalid_api_key", "Missing API key.", "missing_key")
    if not isinstance(key_value, str):
        key_value = key_value.decode("latin-1")
    secret = strip_key_prefix(key_value, prefix)
    key = find_key(snapshot.keys, secret) if secret else None
    if key is None and secret and _hash_in(snapshot.foreign_keys, secret):
        message = "This API key is not allowed on this gateway."
        return None, (403, "key_not_allowed", message, "")
    if key is None or key.proxy != route.proxy:
        return None, (401, "invalid_api_key", "Invalid API key.", "invalid_key")
    if key.expires_at is not None and key.expires_at <= now:
        return key, (401, "expired_api_key", "This API key has expired.", "expired_key")
    return key, None


def _hash_in(hashes: frozenset[str], secret: str) -> bool:
    if not hashes:
        return False
    return hash_secret(secret) in hashes
