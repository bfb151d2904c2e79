"""Prometheus metrics of the calls a gateway process answers (``gateways.metrics``), recorded
once per call, when it ends. Labelled children are made once each and kept: a label lookup
costs more than the increment it is for."""

from typing import Any

from gateways.dataplane.call import Call
from gateways.metrics import (
    COST,
    FAILOVERS,
    FIRST_BYTE,
    GUARDRAIL_ACTIONS,
    LIMIT_REJECTIONS,
    REQUEST_DURATION,
    REQUESTS,
    RETRIES,
    TOKENS,
    UPSTREAM_ATTEMPTS,
    UPSTREAM_DURATION,
)
from guardrails.limits import PriceTable

OTHER_MODEL = "other"
# The usage row's reason of a call a limit refused: "<code>:<policy>".
LIMIT_CODES = ("rate_limited", "rate_limit_unavailable")
TOKEN_KINDS = (("prompt_tokens", "prompt"), ("completion_tokens", "completion"))


class Observer:
    def __init__(self, gateway: str):
        self.gateway = gateway
        self.children: dict[tuple, Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        key = (metric, labels)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = metric.labels(*labels)
        return found

    def model_label(self, call: Call, prices: PriceTable) -> str:
        """The call's model when the configuration or the price list knows it (as the price
        list names it); "other" for whatever else a caller may have sent."""
        model = call.model
        if not model:
            return ""
        if call.routed_model is not None or model in call.route.allowed_models:
            return model
        pricing = prices.lookup(model)
        return pricing.model if pricing is not None else OTHER_MODEL

    def call_ended(self, call: Call, prices: PriceTable, duration: float) -> None:
        route = call.route
        where = (route.proxy, self.gateway, route.provider)
        model = self.model_label(call, prices)
        status_class = f"{call.status // 100}xx" if call.status else "none"
        self.child(REQUESTS, *where, model, status_class, call.outcome).inc()
        self.child(REQUEST_DURATION, *where).observe(duration)
        if call.upstream_ms is not None:
            self.child(UPSTREAM_DURATION, *where).observe(call.upstream_ms / 1000)
        if call.streamed and call.first_byte_ms is not None:
            self.child(FIRST_BYTE, *where).observe(call.first_byte_ms / 1000)
        usage = call.usage
        if usage:
            for field, kind in TOKEN_KINDS:
                if usage.get(field):
                    self.child(TOKENS, *where, model, kind).inc(usage[field])
            if usage.get("cached_tokens"):
                self.child(TOKENS, *where, model, "cached").inc(usage["cached_tokens"])
        if call.cost_nano:
            self.child(COST, *where, model).inc(call.cost_nano / 1e9)
        if call.guardrail_events:
            for event in call.guardrail_events:
                labels = (event["policy"], event["action"], event["direction"])
                self.child(GUARDRAIL_ACTIONS, route.proxy, self.gateway, *labels).inc()
        code, _, policy = call.reason.partition(":")
        if code in LIMIT_CODES and policy:
            status = str(call.status)
            self.child(LIMIT_REJECTIONS, route.proxy, self.gateway, policy, status).inc()
        if call.attempts:
            self.attempts_ended(call)

    def attempts_ended(self, call: Call) -> None:
        proxy, attempts = call.route.proxy, call.attempts
        made = [a for a in attempts if a["reason"] not in ("circuit_open", "unsupported")]
        last = made[-1] if made else None
        for attempt in attempts:
            if attempt["reason"] in ("circuit_open", "unsupported"):
                result = "skipped"
            elif attempt is last:
                result = "ok" if call.outcome == "ok" else "failed"
            else:
                result = "retried"
            self.child(UPSTREAM_ATTEMPTS, proxy, self.gateway, attempt["target"], result).inc()
        if len(made) > 1:
            self.child(RETRIES, proxy, self.gateway).inc()
        if made and call.outcome == "ok" and made[-1]["target"] != call.route.attempt.name:
            self.child(FAILOVERS, proxy, self.gateway).inc()
