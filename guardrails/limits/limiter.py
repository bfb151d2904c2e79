"""Enforcing limits per request: admit before forwarding, settle or release afterwards.

Admission is all or nothing: one atomic backend call checks every counter the request
resolves to and, only if all pass, counts it (a rejected request consumes no quota).

- Request counters count every admitted attempt, whatever the upstream answers.
- Token counters are checked up front (blocked once ``used >= limit``) and grow when the
  response's usage is settled; requests that end without usage add no tokens.
- Cost counters hold settled spend plus outstanding reservations. Admission needs
  ``spent + reserved < budget``, then reserves an estimate: the prompt (one token per 3 bytes
  of request body, an over-estimate for most text) at the input price plus ``max_tokens``
  (``max_completion_tokens``, ``max_output_tokens``, Gemini's ``maxOutputTokens``, Bedrock's
  ``maxTokens``) at the output price, capped at ``maxReservationUsd``; without a
  ``max_tokens`` the cap itself is reserved. Settling replaces the reservation with the real
  cost, so concurrent requests overshoot a budget by at most one reservation (plus whatever
  real costs exceed their estimates). A rejection caused only by reservations in flight
  says ``Retry-After: 1``.
- ``settle(reservation, usage)`` after a response (usage from the body or the final stream
  event); ``settle(reservation, None)`` when the upstream answered but reported no usage
  (the reservation is charged as spent, since the provider may have billed it);
  ``release(reservation)`` when nothing was billed (upstream unreachable, error status,
  client gone before the upstream answered). Both are idempotent, and both only queue the
  adjustment and return: the request never waits for the store after its response.
  ``await flush()`` waits until what is queued has been applied.
- A caller cancelled while its admission is in flight (client gone, timeout) holds no
  reservation: the backend gives it back when the answer arrives.
- Counts land in the window the request was admitted in; a settle after that window ended
  changes nothing.

When the backend is unreachable, a limit in failure mode ``closed`` rejects with 503 and one
in mode ``open`` lets the request through without rate-limit headers; either way the
failure is logged (at most every 10 s) and counted in ``Limiter.backend_failures`` and in the
gateway's metrics (``guardrails.limits.metrics``; settles merged into one call that failed
count once).
"""

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings

from guardrails.limits import metrics
from guardrails.limits.backends import (
    COST,
    REQUESTS,
    TOKENS,
    AdjustOp,
    AdmitOp,
    BackendUnavailable,
    MemoryBackend,
    RedisBackend,
)
from guardrails.limits.headers import WindowHeaders, retry_after_header
from guardrails.limits.pricing import (
    NANO_PER_USD,
    CostEstimate,
    PriceTable,
    warn_unknown_model,
)
from guardrails.limits.rules import ANONYMOUS_KEY, Counter, LimitSet, split_resource

log = logging.getLogger("gatehouse.limits")

DEFAULT_PREFIX = "gatehouse:limits:"
# Keys outlive their window a little so a slow clock still finds them. TTLs count whole
# seconds to the window's end (plus the grace).
_TTL_GRACE_MS = 1000


@dataclass(slots=True)
class LimitContext:
    """What the limiter needs to know about one request."""

    key_id: str | None = None  # the caller's API key id, for per-key limits
    resource: str = ""  # "POST /chat/completions": the matched resource, for per-resource limits
    model: str | None = None  # for pricing
    body: Any = None  # the parsed JSON request body, or None
    body_bytes: int = 0  # size of the raw request body, for the prompt estimate


class Held(NamedTuple):
    """A token or cost counter an admitted request adjusts afterwards."""

    counter: Counter
    key: str
    window_end: float
    reserved: int  # nano-dollars reserved at admission (cost counters)


@dataclass(slots=True)
class Reservation:
    """What ``settle`` or ``release`` must adjust after the response."""

    model: str | None
    held: list[Held]
    done: bool = False


class Decision(NamedTuple):
    """Whether a request may go on, and what to tell its client."""

    allowed: bool
    status: int = 200  # 429 over a limit, 503 when a fail-closed limit cannot be checked
    headers: Sequence[tuple[bytes, bytes]] = ()  # send on every response; do not mutate
    retry_after: int | None = None
    rejected_by: Counter | None = None
    reservation: Reservation | None = None
    message: str = ""

    @property
    def rejected_label(self) -> str:
        """Which limit rejected the request, for the usage record."""
        return self.rejected_by.label if self.rejected_by is not None else ""


ALLOWED = Decision(allowed=True)


class Limiter:
    """One per process: holds the counter backend and the price table."""

    def __init__(
        self,
        backend: RedisBackend | MemoryBackend,
        *,
        prices: PriceTable | None = None,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ):
        self.backend = backend
        self.prices = prices if prices is not None else PriceTable.shipped()
        self.prefix = prefix
        self.clock = clock
        self.backend_failures = 0
        self._last_failure_log = 0.0
        backend.on_failure = self._adjustment_failed

    @classmethod
    def from_settings(cls, *, prices: PriceTable | None = None) -> "Limiter":
        """Redis at ``GATEHOUSE_LIMITS_REDIS_URL`` or ``REDIS_URL``; in-process without one."""
        url = getattr(settings, "GATEHOUSE_LIMITS_REDIS_URL", "") or settings.REDIS_URL
        if url:
            timeout = float(getattr(settings, "GATEHOUSE_LIMITS_REDIS_TIMEOUT", 1.0))
            backend: RedisBackend | MemoryBackend = RedisBackend.from_url(url, timeout=timeout)
        else:
            backend = MemoryBackend()
        prefix = getattr(settings, "GATEHOUSE_LIMITS_KEY_PREFIX", DEFAULT_PREFIX)
        return cls(backend, prices=prices, prefix=prefix)

    async def flush(self) -> None:
        """Wait until every settle and release issued so far has been applied (or has
        failed, which is logged and counted as usual)."""
        await self.backend.flush()

    async def store_reachable(self) -> bool:
        """Whether the counters' store answers now (always, in-process)."""
        return await self.backend.ping()

    async def close(self) -> None:
        """Apply what is queued, then let go of the store (at shutdown)."""
        await self.backend.close()

    # --- per request ----------------------------------------------------------------

    async def admit(self, limits: LimitSet, ctx: LimitContext) -> Decision:
        """Check and count one request against every counter it resolves to."""
        if not limits.groups:
            return ALLOWED
        pairs = limits.resolve(ctx.resource)
        if not pairs:
            return ALLOWED
        now = self.clock()
        key_id = str(ctx.key_id) if ctx.key_id else ANONYMOUS_KEY
        estimate = (
            CostEstimate(self.prices.lookup(ctx.model), ctx.model, ctx.body, ctx.body_bytes)
            if limits.has_cost
            else None
        )
        ops: list[AdmitOp] = []
        ends: list[float] = []
        for counter, resource in pairs:
            start, end = counter.window.bounds(now)
            key = counter.key(self.prefix, resource, key_id if counter.per_key else "", start)
            code = counter.code
            if code == REQUESTS:
                increment = 1
            elif code == COST:
                increment = estimate.reservation(counter)
            else:
                increment = 0
            ttl = math.ceil(end - now) * 1000 + _TTL_GRACE_MS
            ops.append(AdmitOp(key, code, counter.limit, increment, ttl))
            ends.append(end)
        try:
            result = await self.backend.admit(ops)
        except BackendUnavailable as exc:
            return self._unavailable(pairs, ops, ends, ctx, exc)

        if result.allowed:
            # The most restrictive counter (least left, then soonest reset) names the headers;
            # token and cost counters are held for the settle. One pass over the ops.
            used = result.used
            best, best_share = 0, 2.0
            held = []
            for index, op in enumerate(ops):
                left = op.limit - used[index]
                share = left / op.limit if left > 0 else 0.0
                if share < best_share or (share == best_share and ends[index] < ends[best]):
                    best, best_share = index, share
                if op.kind != REQUESTS:
                    reserved = op.increment if op.kind == COST else 0
                    held.append(Held(pairs[index][0], op.key, ends[index], reserved))
            headers = self._headers(pairs[best][0], ops[best], used[best], ends[best], now)
            reservation = Reservation(ctx.model, held) if held else None
            return Decision(allowed=True, headers=headers, reservation=reservation)

        worst, worst_retry = -1, 0
        for index, op in enumerate(ops):
            used = result.used[index]
            # Tokens and cost block once exhausted; a request must fit.
            limit = op.limit - op.increment if op.kind == REQUESTS else op.limit - 1
            if used <= limit:
                continue
            if op.kind == COST and result.spent[index] < op.limit:
                retry = 1  # only reservations in flight fill the budget
            else:
                retry = max(1, math.ceil(ends[index] - now))
            if retry > worst_retry:
                worst, worst_retry = index, retry
        counter = pairs[worst][0]
        headers = self._headers(counter, ops[worst], result.used[worst], ends[worst], now)
        headers.append(retry_after_header(worst_retry))
        return Decision(
            allowed=False,
            status=429,
            headers=headers,
            retry_after=worst_retry,
            rejected_by=counter,
            message=f"Rate limit exceeded ({counter.label}). Try again in {worst_retry} s.",
        )

    def settle(
        self,
        reservation: Reservation | None,
        usage: dict[str, int] | None,
        *,
        model: str | None = None,
        cost_nano: int | None = None,
    ) -> None:
        """Count a finished response: ``usage`` has ``prompt_tokens``, ``completion_tokens``,
        ``total_tokens`` and optionally ``cached_tokens`` and ``cache_write_tokens``; None when
        it reported none. ``cost_nano``: what the usage cost, as the caller priced it (the
        gateway prices each call once, for its usage row too); None prices it here, where a
        model without a price costs each limit's fallback price. Queued: returns at once, a
        failure is logged and counted."""
        self._adjust(self._settle_ops(reservation, usage, model, cost_nano))

    def release(self, reservation: Reservation | None) -> None:
        """Give back a reservation for a request nothing was billed for. Queued like
        ``settle``."""
        self._adjust(self._release_ops(reservation))

    def _settle_ops(
        self,
        reservation: Reservation | None,
        usage: dict[str, int] | None,
        model: str | None,
        cost_nano: int | None,
    ) -> list[AdjustOp]:
        if reservation is None or reservation.done:
            return []
        reservation.done = True
        now = self.clock()
        model = model or reservation.model
        ops = []
        for held in reservation.held:
            if now >= held.window_end:
                continue
            ttl = math.ceil(held.window_end - now) * 1000 + _TTL_GRACE_MS
            counter = held.counter
            if counter.code == TOKENS:
                tokens = _tokens(usage, counter.category) if usage else 0
                if tokens:
                    ops.append(AdjustOp(held.key, TOKENS, tokens, 0, ttl))
            else:
                if usage is None:
                    cost = held.reserved
                elif cost_nano is not None:
                    cost = cost_nano
                else:
                    cost = self._cost(counter, model, usage)
                if cost or held.reserved:
                    ops.append(AdjustOp(held.key, COST, -held.reserved, cost, ttl))
        return ops

    def _release_ops(self, reservation: Reservation | None) -> list[AdjustOp]:
        if reservation is None or reservation.done:
            return []
        reservation.done = True
        now = self.clock()
        return [
            AdjustOp(
                h.key,
                COST,
                -h.reserved,
                0,
                math.ceil(h.window_end - now) * 1000 + _TTL_GRACE_MS,
            )
            for h in reservation.held
            if h.reserved and now < h.window_end
        ]

    # --- reads ----------------------------------------------------------------------

    async def current_usage(
        self, limit: Counter, key_id: str | None = None, resource: str = ""
    ) -> dict[str, Any]:
        """The counter's consumption in its current window: ``used`` (settled), ``reserved``
        (cost in flight), ``limit``, ``remaining``, ``reset_at``; cost amounts in USD.
        ``key_id`` picks a per-key counter; ``resource`` a per-resource default one (an
        override's counters know their resource)."""
        now = self.clock()
        start, end = limit.window.bounds(now)
        who = (str(key_id) if key_id else ANONYMOUS_KEY) if limit.per_key else ""
        where = limit.resource or (_resource_label(resource) if limit.per_resource else "")
        key = limit.key(self.prefix, where, who, start)
        ((used, reserved),) = await self.backend.read([(key, limit.code)])
        remaining = max(0, limit.limit - used - reserved)
        values: dict[str, Any] = {
            "used": used,
            "reserved": reserved,
            "limit": limit.limit,
            "remaining": remaining,
        }
        if limit.code == COST:
            values = {k: round(v / NANO_PER_USD, 9) for k, v in values.items()}
        return {
            **values,
            "unit": "USD" if limit.code == COST else limit.kind,
            "window_start": datetime.fromtimestamp(start, UTC),
            "reset_at": datetime.fromtimestamp(end, UTC),
        }

    # --- internals --------------------------------------------------------------------

    def _headers(
        self, counter: Counter, op: AdmitOp, used: int, end: float, now: float
    ) -> list[tuple[bytes, bytes]]:
        fixed = counter.window_headers
        if fixed is None or fixed.reset_at != end:
            # A new window: its unchanging values are built once, not per request.
            seconds = counter.window.seconds(now)
            fixed = counter.window_headers = WindowHeaders(op.limit, end, seconds, op.kind == COST)
        return fixed.headers(max(0, op.limit - used), now)

    def _cost(self, counter: Counter, model: str | None, usage: dict[str, int]) -> int:
        pricing = self.prices.lookup(model) or counter.fallback_price
        if pricing is None:
            warn_unknown_model(model)
            return 0
        return pricing.usage_cost_nano(usage)

    def _adjust(self, ops: list[AdjustOp]) -> None:
        if not ops:
            return
        try:
            self.backend.adjust(ops)
        except BackendUnavailable as exc:
            self._note_failure(exc, "settle")

    def _adjustment_failed(self, exc: BackendUnavailable) -> None:
        """A call carrying queued settles and releases failed (told once per call, however
        many requests' adjustments it carried)."""
        self._note_failure(exc, "settle")

    def _unavailable(self, pairs, ops, ends, ctx: LimitContext, exc: Exception) -> Decision:
        self._note_failure(exc, "admit")
        closed = next((counter for counter, _ in pairs if not counter.fail_open), None)
        if closed is not None:
            metrics.UNAVAILABLE_REJECTIONS.inc()
            return Decision(
                allowed=False,
                status=503,
                headers=[retry_after_header(1)],
                retry_after=1,
                rejected_by=closed,
                message=f"Rate limit {closed.label} cannot be checked right now.",
            )
        # Served without counting; settle still records usage if the store is back by then.
        metrics.UNCHECKED_REQUESTS.inc()
        held = [
            Held(pairs[i][0], op.key, ends[i], 0) for i, op in enumerate(ops) if op.kind != REQUESTS
        ]
        return Decision(allowed=True, reservation=Reservation(ctx.model, held) if held else None)

    def _note_failure(self, exc: Exception, operation: str) -> None:
        self.backend_failures += 1
        metrics.STORE_FAILURES.labels(operation).inc()
        now = time.monotonic()
        if now - self._last_failure_log >= 10.0:
            self._last_failure_log = now
            log.warning(
                "Rate-limit store unavailable during %s (%s); %d failures so far.",
                operation,
                exc,
                self.backend_failures,
            )


def _resource_label(resource: str) -> str:
    """The counter label of a resource: as the admitting request or the override named it."""
    if not resource:
        return ""
    method, path = split_resource(resource)
    return f"{method} {path}"


def _tokens(usage: dict[str, int], category: str) -> int:
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    if category == "prompt":
        return prompt
    if category == "completion":
        return completion
    return usage.get("total_tokens") or prompt + completion
