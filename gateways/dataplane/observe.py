"""Prometheus metrics of the calls a gateway process answers (``gateways.metrics``), recorded
once per call, when it ends. Labelled children are made once each and kept, per route: a
label lookup costs more than the increment it is for."""

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


class RouteMetrics:
    """The children of one proxy's metrics on one provider, each made when first used (a
    series appears once it has something to count)."""

    def __init__(self, proxy: str, gateway: str, provider: str):
        self.where = (proxy, gateway, provider)
        self.duration: Any = None
        self.upstream: Any = None
        self.first_byte: Any = None
        self.requests: dict[tuple[str, str, str], Any] = {}  # (model, status class, outcome)
        self.tokens: dict[tuple[str, str], Any] = {}  # (model, kind)
        self.cost: dict[str, Any] = {}  # model

    def count_request(self, model: str, status_class: str, outcome: str) -> None:
        key = (model, status_class, outcome)
        found = self.requests.get(key)
        if found is None:
            found = self.requests[key] = REQUESTS.labels(*self.where, *key)
        found.inc()

    def count_tokens(self, model: str, kind: str, tokens: int) -> None:
        key = (model, kind)
        found = self.tokens.get(key)
        if found is None:
            found = self.tokens[key] = TOKENS.labels(*self.where, *key)
        found.inc(tokens)

    def count_cost(self, model: str, usd: float) -> None:
        found = self.cost.get(model)
        if found is None:
            found = self.cost[model] = COST.labels(*self.where, model)
        found.inc(usd)

    def time_request(self, seconds: float) -> None:
        if self.duration is None:
            self.duration = REQUEST_DURATION.labels(*self.where)
        self.duration.observe(seconds)

    def time_upstream(self, seconds: float) -> None:
        if self.upstream is None:
            self.upstream = UPSTREAM_DURATION.labels(*self.where)
        self.upstream.observe(seconds)

    def time_first_byte(self, seconds: float) -> None:
        if self.first_byte is None:
            self.first_byte = FIRST_BYTE.labels(*self.where)
        self.first_byte.observe(seconds)


class Observer:
    def __init__(self, gateway: str):
        self.gateway = gateway
        self.routes: dict[tuple[str, str], RouteMetrics] = {}  # (proxy, provider)
        self.children: dict[tuple, Any] = {}  # the rarer metrics: guardrails, limits, routing

    def route(self, proxy: str, provider: str) -> RouteMetrics:
        key = (proxy, provider)
        found = self.routes.get(key)
        if found is None:
            found = self.routes[key] = RouteMetrics(proxy, self.gateway, provider)
        return found

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
        metrics = self.route(route.proxy, route.provider)
        model = self.model_label(call, prices)
        status_class = f"{call.status // 100}xx" if call.status else "none"
        metrics.count_request(model, status_class, call.outcome)
        metrics.time_request(duration)
        if call.upstream_ms is not None:
            metrics.time_upstream(call.upstream_ms / 1000)
        if call.streamed and call.first_byte_ms is not None:
            metrics.time_first_byte(call.first_byte_ms / 1000)
        usage = call.usage
        if usage:
            for field, kind in TOKEN_KINDS:
                if usage.get(field):
                    metrics.count_tokens(model, kind, usage[field])
            if usage.get("cached_tokens"):
                metrics.count_tokens(model, "cached", usage["cached_tokens"])
        if call.cost_nano:
            metrics.count_cost(model, call.cost_nano / 1e9)
        if call.guardrail_events:
            for event in call.guardrail_events:
                labels = (event["policy"], event["action"], event["direction"])
                self.child(GUARDRAIL_ACTIONS, route.proxy, self.gateway, *labels).inc()
        if call.reason:
            code, _, policy = call.reason.partition(":")
            if code in LIMIT_CODES and policy:
                status = str(call.status)
                self.child(LIMIT_REJECTIONS, route.proxy, self.gateway, policy, status).inc()
        if call.attempts:
            self.attempts_ended(call)
        elif call.first_attempt is not None:
            result = "ok" if call.outcome == "ok" else "failed"
            labels = (route.proxy, self.gateway, call.first_attempt, result)
            self.child(UPSTREAM_ATTEMPTS, *labels).inc()

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
