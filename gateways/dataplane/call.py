"""One request on its way through the gateway (``Call``), how a step stops it (``Refusal``),
and the usage row it leaves behind (``UsageRow``, built in one place: ``Call.usage_row``)."""

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from gateways.dataplane.routes import KeyRecord, Route
from gateways.metrics import USAGE_UNPRICED
from guardrails.limits.pricing import PriceTable, warn_unknown_model

LimitHeaders = tuple[tuple[bytes, bytes], ...]


class Outcome:
    """How a request ended, as usage rows record it (``gateways.models.UsageOutcome``)."""

    OK = "ok"
    UPSTREAM_ERROR = "upstream_error"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A step's answer instead of the upstream's: the status, a stable error ``code`` and a
    readable message, in the called API's error shape. ``reason`` is what the usage row
    records (the code when empty); ``headers`` go out with the answer (``Retry-After`` ...);
    ``body`` replaces the error body the adapter would build (a guardrail's intervention)."""

    status: int
    code: str
    message: str
    reason: str = ""
    outcome: str = Outcome.REJECTED
    headers: LimitHeaders = ()
    body: bytes | None = None
    details: dict[str, Any] | None = None


class UsageRow(NamedTuple):
    """A usage record as the gateway writes it (``gateways.models.UsageRecord``'s columns, in
    the order the usage writer inserts them)."""

    created_at: float
    proxy: str
    deployment: str | None
    api_key: str | None
    provider: str
    model: str
    method: str
    resource: str
    status_code: int
    outcome: str
    reason: str
    streamed: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    cost_usd: Decimal | None
    latency_ms: float
    upstream_latency_ms: float | None
    first_byte_ms: float | None
    details: dict[str, Any] | None


@dataclass(slots=True, eq=False)
class Call:
    """Everything one request carries from step to step. The app fills in where it is going;
    the filters what they learn (the key, the body, the model) and what they decide; the relay
    what the upstream answered."""

    scope: dict[str, Any]
    receive: Any
    send: Any
    snapshot: Any  # the runtime snapshot the call is served from (its keys above all)
    route: Route
    method: str
    resource: str = ""  # the checked resource path (see gateways.dataplane.paths)
    raw_resource: str = ""  # the same path as the caller encoded it, forwarded upstream
    opaque: str = ""  # the decoded opaque path segment (Bedrock's model ID), or ""
    query: str = ""  # the raw query string forwarded upstream
    headers: list[tuple[str, str]] = field(default_factory=list)  # forwarded upstream
    content_type: bytes = b""
    content_length: int | None = None
    started: float = field(default_factory=time.perf_counter)
    wall: float = field(default_factory=time.time)
    key: KeyRecord | None = None
    body: bytes = b""
    # The parsed JSON body, when the body is JSON (or a guardrail needed it to be);
    # ``body_changed`` once a step changed it, so the bytes are serialised again.
    parsed: Any = None
    body_changed: bool = False
    model: str = ""
    # Guardrail policies' per-request state, shared by the request and response phases.
    state: dict[str, Any] = field(default_factory=dict)
    guardrail_events: list[dict[str, str]] | None = None
    reservation: Any = None  # the rate limiter's, settled or released when the call ends
    limit_headers: LimitHeaders = ()  # the rate-limit headers sent with every answer
    codec: Any = None  # a streamed answer's wire format (gateways.dataplane.streams)
    # Routing (gateways.dataplane.filters.routing): the plan the relay follows (None: the
    # route's own provider, once), the model a round robin chose, the attempts made (for
    # the usage row's details; none when the first attempt answered, and ``first_attempt``
    # names its target instead) and headers the routing adds to the answer.
    plan: Any = None
    routed_model: tuple[str, str] | None = None
    attempts: list[dict[str, Any]] | None = None
    first_attempt: str | None = None
    route_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    key_used: str | None = None  # the fingerprint of the upstream key a key pool gave
    # Tracing (gateways.dataplane.tracing), when it is on: the tracer and the call's span.
    tracer: Any = None
    span: Any = None
    response_model: str = ""  # the model the upstream says answered
    # What happened.
    status: int = 0
    outcome: str = Outcome.OK
    reason: str = ""
    streamed: bool = False
    upstream_ms: float | None = None
    first_byte_ms: float | None = None  # a streamed answer's first body byte to the client
    usage: dict[str, int] | None = None
    # What the usage cost in nano-dollars (1e-9 USD), priced once when the call ends: the usage
    # row and the cost budgets' settle take this same number. None: nothing priced.
    cost_nano: int | None = None
    details: dict[str, Any] | None = None
    response_started: bool = False

    def note_guardrails(self, events: list[dict[str, str]]) -> None:
        """Keep what guardrails did (anything but passing) for the usage row."""
        for event in events:
            if event["action"] != "passed":
                if self.guardrail_events is None:
                    self.guardrail_events = []
                self.guardrail_events.append(event)

    def refused(self, refusal: Refusal) -> None:
        """Record that ``refusal`` answered this call."""
        self.status = refusal.status
        self.outcome = refusal.outcome
        self.reason = refusal.reason or refusal.code
        if refusal.details:
            self.details = {**(self.details or {}), **refusal.details}

    def price(self, prices: PriceTable) -> None:
        """Price the usage the upstream reported, by the call's model. A model the table does
        not know costs nothing and says so: a warning (once per model), a metric, and a row
        without a cost."""
        if not self.usage:
            return
        pricing = prices.lookup(self.model)
        if pricing is None:
            warn_unknown_model(self.model)
            USAGE_UNPRICED.labels(self.route.provider).inc()
            return
        self.cost_nano = pricing.usage_cost_nano(self.usage)

    def usage_row(self) -> UsageRow:
        """The call's usage record."""
        route, key, usage = self.route, self.key, self.usage or {}
        details = self.details
        if self.guardrail_events:
            details = {**(details or {}), "guardrails": self.guardrail_events}
        if self.attempts:
            details = {**(details or {}), "attempts": self.attempts}
        if usage.get("cache_write_tokens"):
            details = {**(details or {}), "cache_write_tokens": usage["cache_write_tokens"]}
        cost = self.cost_nano
        return UsageRow(
            created_at=self.wall,
            proxy=route.proxy,
            deployment=route.deployment_id,
            api_key=key.id if key is not None else None,
            provider=route.provider,
            model=self.model,
            method=self.method,
            resource=self.resource,
            status_code=self.status,
            outcome=self.outcome,
            reason=self.reason,
            streamed=self.streamed,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            total_tokens=usage.get("total_tokens"),
            cached_tokens=usage.get("cached_tokens"),
            cost_usd=None if cost is None else usd(cost),
            latency_ms=elapsed_ms(self.started),
            upstream_latency_ms=self.upstream_ms,
            first_byte_ms=self.first_byte_ms,
            details=details,
        )


def stray_row(
    *, wall: float, started: float, proxy: str, method: str, resource: str, status: int, reason: str
) -> UsageRow:
    """The usage row of a request that named no proxy this gateway serves."""
    return UsageRow(
        created_at=wall,
        proxy=proxy,
        deployment=None,
        api_key=None,
        provider="",
        model="",
        method=method,
        resource=resource,
        status_code=status,
        outcome=Outcome.REJECTED,
        reason=reason,
        streamed=False,
        prompt_tokens=None,
        completion_tokens=None,
        total_tokens=None,
        cached_tokens=None,
        cost_usd=None,
        latency_ms=elapsed_ms(started),
        upstream_latency_ms=None,
        first_byte_ms=None,
        details=None,
    )


def usd(nano: int) -> Decimal:
    """Nano-dollars as the exact dollar amount the usage row stores."""
    return Decimal(nano).scaleb(-9)


def elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
