"""Rate limits and budgets: request count, token count and cost in USD.

These policies have no request or response hooks, so the guardrail chain skips them; the
gateway compiles them with ``guardrails.limits.compile_limits`` and enforces them through the
``Limiter`` (see ``guardrails.limits``). Common parameters:

- ``scope``: ``shared`` (one counter for every caller of the proxy or provider) or
  ``per_key`` (one counter per API key; callers without a key share one bucket);
- ``failureMode``: when the shared store (Redis) is unreachable, ``open`` serves the request
  and logs, ``closed`` rejects it with 503. Defaults: open for requests and tokens, closed
  for cost budgets;
- ``perResource`` with ``resources``: every resource (``"POST /chat/completions"``; no method
  means any, ``{param}`` matches a segment) gets independent counters, the top-level limits
  being the default and ``resources`` the overrides;
- each limit's window is ``duration`` times ``unit`` (second … month, see ``limits.windows``).
"""

from typing import Any, ClassVar

from guardrails.limits.pricing import NANO_PER_USD, pricing_from_params
from guardrails.limits.rules import Counter, LimitGroup
from guardrails.limits.windows import UNITS, Window
from guardrails.registry import Policy, register

RESOURCE_PATTERN = r"^(?:(?:GET|POST|PUT|DELETE|PATCH|OPTIONS|HEAD|\*) )?/\S*$"


def window_properties(default_unit: str) -> dict[str, Any]:
    return {
        "duration": {"type": "integer", "minimum": 1, "default": 1, "title": "Reset duration"},
        "unit": {"enum": list(UNITS), "default": default_unit, "title": "Unit"},
    }


def limit_list(amount: dict[str, Any], name: str, default_unit: str, min_items: int) -> dict:
    return {
        "type": "array",
        "minItems": min_items,
        "maxItems": 10,
        "items": {
            "type": "object",
            "properties": {name: amount, **window_properties(default_unit)},
            "required": [name],
            "additionalProperties": False,
        },
    }


def limit_schema(
    limits: dict[str, dict[str, Any]], *, failure_default: str, extra: dict | None = None
) -> dict[str, Any]:
    """The parameters schema of a rate-limit policy whose limit lists are ``limits``."""
    return {
        "type": "object",
        "properties": {
            **limits,
            "scope": {
                "enum": ["shared", "per_key"],
                "default": "shared",
                "title": "Counted",
                "description": "shared: one counter for all callers; per_key: one per API key.",
            },
            "failureMode": {
                "enum": ["open", "closed"],
                "default": failure_default,
                "title": "When the counter store is unavailable",
                "description": "open: serve and log; closed: reject with 503.",
                "x-advanced": True,
            },
            "perResource": {
                "type": "boolean",
                "default": False,
                "title": "Count each resource separately",
            },
            "resources": {
                "type": "array",
                "default": [],
                "title": "Per-resource overrides",
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": {"type": "string", "pattern": RESOURCE_PATTERN},
                        **limits,
                    },
                    "required": ["resource"],
                    "additionalProperties": False,
                },
            },
            **(extra or {}),
        },
        "additionalProperties": False,
    }


class LimitPolicy(Policy):
    """Base class: ``setup`` compiles the parameters into ``self.group``."""

    category = "ratelimit"
    phases = frozenset()
    kind: ClassVar[str]
    # parameter name of each limit list -> (counter category, amount field)
    lists: ClassVar[dict[str, tuple[str, str]]]

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        if not any(params.get(name) for name in cls.lists):
            errors.append({"field": "params", "message": "Set at least one limit."})
        if params.get("resources") and not params.get("perResource"):
            errors.append(
                {
                    "field": "params.perResource",
                    "message": "Per-resource overrides need perResource to be on.",
                }
            )
        seen = set()
        for index, row in enumerate(params.get("resources") or []):
            resource = " ".join(row["resource"].split())
            if resource in seen:
                errors.append(
                    {
                        "field": f"params.resources.{index}.resource",
                        "message": f"Resource '{resource}' is listed twice.",
                    }
                )
            seen.add(resource)
            if not any(row.get(name) for name in cls.lists):
                errors.append(
                    {
                        "field": f"params.resources.{index}",
                        "message": "Set at least one limit for this resource.",
                    }
                )
        return errors

    def setup(self, params: dict[str, Any]) -> None:
        overrides = {
            row["resource"]: self._counters(row, params) for row in params.get("resources") or []
        }
        self.group = LimitGroup(
            self._counters(params, params),
            per_resource=bool(params.get("perResource")),
            overrides=overrides,
        )

    def _counters(self, source: dict[str, Any], params: dict[str, Any]) -> tuple[Counter, ...]:
        counters = []
        for name, (category, field) in self.lists.items():
            for row in source.get(name) or []:
                counters.append(
                    Counter(
                        policy=self.name,
                        namespace=self.key,
                        kind=self.kind,
                        category=category,
                        limit=self.amount(row[field]),
                        window=Window(row.get("duration", 1), row.get("unit", "minute")),
                        per_key=params.get("scope") == "per_key",
                        fail_open=params.get("failureMode") == "open",
                        **self.cost_options(params),
                    )
                )
        return tuple(counters)

    def amount(self, value: Any) -> int:
        return int(value)

    def cost_options(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}


@register
class RequestRateLimit(LimitPolicy):
    name = "basic-ratelimit"
    display_name = "Rate Limit - Basic"
    description = "Limits the number of requests per time window."
    kind = "requests"
    lists = {"limits": ("requests", "requests")}
    parameters_schema = limit_schema(
        {
            "limits": limit_list(
                {"type": "integer", "minimum": 1, "maximum": 1_000_000_000, "title": "Requests"},
                "requests",
                "minute",
                0,
            )
        },
        failure_default="open",
    )


TOKEN_AMOUNT = {"type": "integer", "minimum": 1, "title": "Tokens"}


@register
class TokenRateLimit(LimitPolicy):
    """Tokens are counted from the usage the response reports (or the last stream event);
    a request is blocked up front once a counter is exhausted, so the last admitted request
    may take a counter past its limit."""

    name = "token-based-ratelimit"
    display_name = "Token-Based Rate Limit"
    description = "Limits prompt, completion or total tokens per time window."
    kind = "tokens"
    lists = {
        "promptTokenLimits": ("prompt", "count"),
        "completionTokenLimits": ("completion", "count"),
        "totalTokenLimits": ("total", "count"),
    }
    parameters_schema = limit_schema(
        {
            name: limit_list(TOKEN_AMOUNT, "count", "minute", 0)
            for name in ("promptTokenLimits", "completionTokenLimits", "totalTokenLimits")
        },
        failure_default="open",
    )


PRICE_PROPERTIES = {
    "input": {"type": "number", "minimum": 0, "title": "Input (USD / 1M tokens)"},
    "output": {"type": "number", "minimum": 0, "title": "Output (USD / 1M tokens)"},
    "cachedInput": {"type": "number", "minimum": 0, "title": "Cached input (USD / 1M tokens)"},
    "cacheWrite": {"type": "number", "minimum": 0, "title": "Cache writes (USD / 1M tokens)"},
}


@register
class CostBudget(LimitPolicy):
    """A budget in USD, priced from the model pricing table. Each request reserves an
    estimate before it is forwarded and settles the real cost afterwards (see
    ``guardrails.limits.limiter``), so concurrent requests overshoot a budget by at most one
    reservation. Unknown models cost ``fallbackPrice``, or 0 (logged) without one."""

    name = "llm-cost-based-ratelimit"
    display_name = "LLM Cost-Based Rate Limit"
    description = "Caps spend in USD per time window, priced per model."
    kind = "cost"
    lists = {"budgetLimits": ("cost", "amount")}
    parameters_schema = limit_schema(
        {
            "budgetLimits": limit_list(
                {
                    "type": "number",
                    "minimum": 0.000001,
                    "maximum": 1_000_000,
                    "title": "Budget (USD)",
                },
                "amount",
                "month",
                0,
            )
        },
        failure_default="closed",
        extra={
            "maxReservationUsd": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 0.5,
                "title": "Largest reservation per request (USD)",
                "description": "Reserved when the request sets no max_tokens; caps estimates.",
                "x-advanced": True,
            },
            "fallbackPrice": {
                "type": "object",
                "title": "Price for models missing from the pricing table",
                "properties": PRICE_PROPERTIES,
                "required": ["input", "output"],
                "additionalProperties": False,
                "x-advanced": True,
            },
        },
    )

    def amount(self, value: Any) -> int:
        return round(float(value) * NANO_PER_USD)

    def cost_options(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_reservation": round(float(params["maxReservationUsd"]) * NANO_PER_USD),
            "fallback_price": pricing_from_params(params.get("fallbackPrice")),
        }
