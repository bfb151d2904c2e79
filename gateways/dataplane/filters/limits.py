"""Rate limits and budgets (``guardrails.limits``): admitted just before the request is
forwarded, after the key, the body and the request guardrails, so a request refused earlier
uses no quota; settled with the answer's usage when the call ends."""

from gateways.dataplane.call import Call, Outcome, Refusal
from gateways.dataplane.chain import Filter
from guardrails.limits import LimitContext, Limiter, LimitSet


class RateLimits(Filter):
    """Admits the call against the proxy's and the provider's limits: 429 over a limit, 503
    when a fail-closed limit cannot be checked; the rate-limit headers go out with whatever
    answers the call."""

    name = "rate-limits"

    def __init__(self, limiter: Limiter, limits: LimitSet):
        self.limiter = limiter
        self.limits = limits

    async def on_request(self, call: Call) -> Refusal | None:
        context = LimitContext(
            key_id=call.key.id if call.key is not None else None,
            resource=f"{call.method} {call.resource}",
            model=call.model,
            body=call.parsed,
            body_bytes=len(call.body),
        )
        decision = await self.limiter.admit(self.limits, context)
        if not decision.allowed:
            counter = decision.rejected_by
            limited = decision.status == 429
            code = "rate_limited" if limited else "rate_limit_unavailable"
            return Refusal(
                status=decision.status,
                code=code,
                message=decision.message,
                reason=f"{code}:{counter.policy}",
                outcome=Outcome.REJECTED if limited else Outcome.FAILED,
                headers=tuple(decision.headers),
                details={"rate_limit": {"attachment": counter.namespace, "limit": counter.label}},
            )
        call.limit_headers = tuple(decision.headers)
        call.reservation = decision.reservation
        return None

    async def on_end(self, call: Call) -> None:
        """Count the answer's usage without holding up the client. Nothing is billed when the
        upstream never answered or answered with an error; otherwise the reported usage is
        settled at the cost the usage row records (none reported, e.g. a stream cut short:
        the reservation is charged)."""
        reservation = call.reservation
        if reservation is None:
            return
        call.reservation = None
        if call.upstream_ms is None or call.outcome == Outcome.UPSTREAM_ERROR:
            self.limiter.release(reservation)
        else:
            self.limiter.settle(
                reservation, call.usage, model=call.model or None, cost_nano=call.cost_nano
            )
