"""Compiled limits: the counters one attachment defines, and the set a route enforces.

A rate-limit attachment compiles (once per deployment snapshot) into a ``LimitGroup`` of
``Counter`` definitions. Each counter is independent: its own kind (requests, prompt /
completion / total tokens, cost), limit, window, scope and failure mode. With ``perResource``
every resource gets its own counters: the resource's override if it has one, else a copy of
the default limits. A route's ``LimitSet`` is the proxy's groups plus the provider's; a
request must pass every counter it resolves to, so the most restrictive one decides.

Counters are namespaced by the attachment (``basic-ratelimit:12``), so a provider's limit is
shared by every proxy using that provider, and editing an attachment's numbers keeps its
counts. Two limits of one attachment with the same kind and window share a counter.
"""

import re
from typing import Any

from guardrails.engine import compile_policy
from guardrails.limits.backends import COST, REQUESTS, TOKENS
from guardrails.limits.pricing import NANO_PER_USD, ModelPricing
from guardrails.limits.windows import Window
from guardrails.registry import get_policy
from proxies.resources import path_pattern

KIND_CODES = {"requests": REQUESTS, "tokens": TOKENS, "cost": COST}
# Callers without an API key share one per-key bucket.
ANONYMOUS_KEY = "anonymous"
# Keys a counter keeps formatted (per resource and caller) before it starts afresh.
_KEYS_KEPT = 4096


class Counter:
    """One limit: ``limit`` units (requests, tokens or nano-dollars) per ``window``."""

    __slots__ = (
        "_keys",
        "_stem",
        "category",
        "code",
        "fail_open",
        "fallback_price",
        "kind",
        "label",
        "limit",
        "max_reservation",
        "namespace",
        "per_key",
        "per_resource",
        "policy",
        "resource",
        "window",
        "window_headers",
    )

    def __init__(
        self,
        *,
        policy: str,
        namespace: str,
        kind: str,
        category: str,
        limit: int,
        window: Window,
        per_key: bool,
        fail_open: bool,
        max_reservation: int = 0,
        fallback_price: ModelPricing | None = None,
    ):
        self.policy = policy
        self.namespace = namespace
        self.kind = kind  # requests | tokens | cost
        self.code = KIND_CODES[kind]
        self.category = category  # requests | prompt | completion | total | cost
        self.limit = limit
        self.window = window
        self.per_key = per_key
        self.per_resource = False  # set by its LimitGroup
        self.resource = ""  # the override's resource, for an override's counters
        self.fail_open = fail_open
        self.max_reservation = max_reservation  # nano-dollars, cost only
        self.fallback_price = fallback_price
        # The rate-limit headers of the current window (``WindowHeaders``), kept by the limiter.
        self.window_headers: Any = None
        self._stem = f"{namespace}|{category}|{window.label}|"
        # (prefix, resource, key id) -> (window start, key): keys of the current windows.
        self._keys: dict[tuple[str, str, str], tuple[float, str]] = {}
        if kind == "cost":
            amount = f"{limit / NANO_PER_USD:.6f}".rstrip("0").rstrip(".")
            self.label = f"{policy} {amount} USD/{window.label}"
        else:
            unit = "requests" if kind == "requests" else f"{category} tokens"
            self.label = f"{policy} {limit} {unit}/{window.label}"

    def __repr__(self) -> str:
        return f"<Counter {self.namespace} {self.label}>"

    def key(self, prefix: str, resource: str, key_id: str, window_start: float) -> str:
        """The store's key of this counter's window for one resource and caller; formatted
        once per window (this runs for every counter of every request)."""
        keys = self._keys
        slot = (prefix, resource, key_id)
        kept = keys.get(slot)
        if kept is not None and kept[0] == window_start:
            return kept[1]
        if len(keys) >= _KEYS_KEPT:
            keys.clear()
        key = f"{prefix}{self._stem}{resource}|{key_id}|{int(window_start)}"
        keys[slot] = (window_start, key)
        return key

    def describe(self) -> dict[str, Any]:
        """A plain description for usage records, the admin and the API."""
        return {
            "policy": self.policy,
            "attachment": self.namespace,
            "kind": self.kind,
            "category": self.category,
            "limit": self.limit / NANO_PER_USD if self.kind == "cost" else self.limit,
            "window": {"duration": self.window.duration, "unit": self.window.unit},
            "scope": "per_key" if self.per_key else "shared",
            "failure_mode": "open" if self.fail_open else "closed",
            "per_resource": self.per_resource,
            "resource": self.resource,
            "label": self.label,
        }


class _Override:
    __slots__ = ("counters", "label", "method", "path", "pattern")

    def __init__(self, resource: str, counters: tuple[Counter, ...]):
        self.method, self.path = split_resource(resource)
        self.label = f"{self.method} {self.path}"
        self.counters = counters
        self.pattern = (
            re.compile(path_pattern(self.path) + r"\Z")
            if "{" in self.path or "*" in self.path
            else None
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        return path == self.path if self.pattern is None else bool(self.pattern.match(path))


def split_resource(resource: str) -> tuple[str, str]:
    """``"POST /chat/completions"`` → ``("POST", "/chat/completions")``; no method means any."""
    resource = resource.strip()
    if " " in resource:
        method, path = resource.split(None, 1)
        return method.upper(), path.strip()
    return "*", resource


class LimitGroup:
    """The counters of one rate-limit attachment."""

    __slots__ = ("default", "overrides", "per_resource")

    def __init__(
        self,
        default: tuple[Counter, ...],
        *,
        per_resource: bool = False,
        overrides: dict[str, tuple[Counter, ...]] | None = None,
    ):
        self.default = default
        self.per_resource = per_resource
        self.overrides = [_Override(r, c) for r, c in (overrides or {}).items()]
        for counter in self.counters():
            counter.per_resource = per_resource
        for override in self.overrides:
            for counter in override.counters:
                counter.resource = override.label

    def counters(self) -> list[Counter]:
        """Every counter definition, for display."""
        out = list(self.default)
        for override in self.overrides:
            out.extend(override.counters)
        return out

    def resolve(self, resource: str) -> list[tuple[Counter, str]]:
        if not self.per_resource:
            return [(c, "") for c in self.default]
        method, path = split_resource(resource)
        for override in self.overrides:
            if override.matches(method, path):
                return [(c, override.label) for c in override.counters]
        return [(c, f"{method} {path}" if path else "") for c in self.default]


class LimitSet:
    """Everything one route enforces. ``resolve`` answers from a cache after the first
    request for a resource."""

    __slots__ = ("_cache", "fails_closed", "groups", "has_cost", "has_tokens")

    def __init__(self, groups: list[LimitGroup]):
        self.groups = tuple(groups)
        counters = [c for g in self.groups for c in g.counters()]
        self.has_tokens = any(c.kind == "tokens" for c in counters)
        self.has_cost = any(c.kind == "cost" for c in counters)
        # Whether some limit refuses calls while its store is unreachable.
        self.fails_closed = any(not c.fail_open for c in counters)
        self._cache: dict[str, tuple[tuple[Counter, str], ...]] = {}

    def __bool__(self) -> bool:
        return bool(self.groups)

    def resolve(self, resource: str) -> tuple[tuple[Counter, str], ...]:
        """``(counter, resource label)`` pairs that apply to a request for ``resource``."""
        found = self._cache.get(resource)
        if found is None:
            found = tuple(pair for group in self.groups for pair in group.resolve(resource))
            if len(self._cache) < 1024:
                self._cache[resource] = found
        return found


NO_LIMITS = LimitSet([])


def is_limit_attachment(attachment: dict[str, Any]) -> bool:
    policy_class = get_policy(attachment.get("policy"))
    return policy_class is not None and policy_class.category == "ratelimit"


def compile_limits(
    proxy_attachments: list[dict[str, Any]], provider_attachments: list[dict[str, Any]]
) -> LimitSet:
    """The limits of a deployment snapshot's chains (``snapshot["guardrails"]["proxy"]`` and
    ``["provider"]``), once per snapshot. Raises ``ChainCompileError`` like ``compile_chain``."""
    groups = [
        compile_policy(a).group
        for a in [*proxy_attachments, *provider_attachments]
        if is_limit_attachment(a)
    ]
    return LimitSet(groups) if groups else NO_LIMITS
