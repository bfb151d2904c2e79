"""Compiled routes: everything needed to serve one deployed proxy, computed once per
snapshot, and the key lookups. Pure in-memory lookups; nothing here touches the database."""

import hmac
import re
from dataclasses import dataclass
from typing import Any

from gateways.dataplane.adapters import ProviderAdapter
from gateways.dataplane.targets import Attempt, Target, build_target
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
        "attempt",
        "chain",
        "context_segments",
        "deployment_header",
        "deployment_id",
        "deployment_name",
        "key_alternate",
        "key_in_query",
        "key_name",
        "key_prefix",
        "needs_model",
        "provider",
        "proxy",
        "resources",
        "target",
        "targets",
    )

    def __init__(
        self, deployment: dict[str, Any], credentials: dict[str, Any], adapter: ProviderAdapter
    ):
        snapshot = deployment["snapshot"]
        proxy, provider = snapshot["proxy"], snapshot["provider"]
        self.proxy: str = proxy["id"]
        self.provider: str = provider["id"]
        self.deployment_id: str = deployment["id"]
        self.deployment_name: str = deployment.get("name") or deployment["id"]
        self.deployment_header = (b"x-gatehouse-deployment", self.deployment_name.encode())
        context = (proxy.get("context") or "/").strip("/")
        # The context's segments, which an invoke path must start with (see gateways.paths).
        self.context_segments: tuple[str, ...] = tuple(context.split("/")) if context else ()
        # No resources listed: the proxy exposes every path the provider allows.
        resources = proxy.get("resources") or []
        self.resources = ResourceMatcher(resources) if resources else None
        access = provider.get("access_control") or {}
        self.access = ResourceMatcher(access.get("exceptions") or [])
        self.access_allows: bool = access.get("mode", "allow_all") == "allow_all"
        self._decisions: dict[tuple[str, str], bool] = {}
        self.adapter = adapter
        # The request's steps (gateways.dataplane.chain), compiled from the deployment and
        # set by whoever builds the snapshot.
        self.chain: Any = None
        # The provider as this process calls it (credentials rotate without a redeploy), and
        # the other providers routing may send calls to, by ID.
        self.target = build_target(provider, credentials.get(provider["id"]))
        self.attempt = Attempt(self.target)
        self.targets: dict[str, Target] = {
            other_id: build_target(other, credentials.get(other_id))
            for other_id, other in (snapshot.get("providers") or {}).items()
        }
        self.allowed_models = frozenset(provider.get("allowed_models") or ())
        self.needs_model = bool(self.allowed_models)
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


def key_of_other_gateway(hashes: frozenset[str], secret: str) -> bool:
    """Whether ``secret`` is a key restricted to other gateways (refused with 403, not 401)."""
    return bool(hashes) and hash_secret(secret) in hashes
