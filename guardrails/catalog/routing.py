"""Routing and resilience: which upstream model or provider serves a request, and what
happens when it fails.

- ``model-round-robin`` / ``model-weighted-round-robin`` spread requests over models of the
  proxy's provider (the model is replaced where the template says the request names it); a
  model answering 5xx or 429 is suspended for ``suspendDuration`` seconds, and when every
  model is suspended the gateway answers 503.
- ``provider-failover`` tries ordered targets (providers of the same wire format, each with
  an optional model) with retries, backoff and jitter inside one deadline, and opens a
  circuit breaker on a target that keeps failing.

Like the rate limits, these policies have no request or response hooks, so the guardrail
chain skips them; the gateway reads their parameters from the deployment snapshot. Rules
that need the database (targets exist and speak the same wire format, one policy of each
kind per proxy) live in ``guardrails.routing``.
"""

from typing import Any, ClassVar

from guardrails.registry import Policy, register

ROUTING_CATEGORY = "routing"
# What a failover retries on: a 429, any 5xx, a refused or failed connection, a timeout.
RETRY_REASONS = ("429", "5xx", "connect", "timeout")
STICKY_LOCATIONS = ("header", "queryParam", "payload", "ip")

SUSPEND_DURATION = {
    "type": "integer",
    "minimum": 0,
    "default": 30,
    "title": "Suspend duration (seconds)",
    "description": "How long a model that answered 5xx or 429 is left out; 0 never suspends.",
    "x-advanced": True,
}
MODEL_NAME = {"type": "string", "minLength": 1, "maxLength": 200, "title": "Model"}

STICKY_KEY = {
    "type": "object",
    "title": "Sticky sessions",
    "description": "Send the requests of one session to the same model. The session is "
    "named by a header, a query parameter, a top-level field of the payload or the client's "
    "IP address.",
    "properties": {
        "location": {"enum": list(STICKY_LOCATIONS), "title": "Session key in"},
        "identifier": {
            "type": "string",
            "maxLength": 200,
            "title": "Name",
            "description": "The header or query parameter name, or the payload's top-level "
            "field (e.g. user); not used for ip.",
        },
        "fallbackToAuth": {
            "type": "boolean",
            "default": False,
            "title": "Without it, use the caller's API key",
        },
        "fallbackToIP": {
            "type": "boolean",
            "default": False,
            "title": "Without it, use the client's IP address",
        },
    },
    "required": ["location"],
    "additionalProperties": False,
    "x-advanced": True,
}


class RoutingPolicy(Policy):
    """Base class of the routing policies: no hooks, parameters read by the gateway."""

    category = ROUTING_CATEGORY
    phases = frozenset()
    # Policies of one kind are exclusive on a proxy (two round robins would fight over the
    # model); see ``guardrails.routing``.
    kind: ClassVar[str]


def duplicate_rows(rows: list[dict[str, Any]], field: str, *keys: str) -> list[dict[str, str]]:
    """Field errors for rows whose ``keys`` repeat an earlier row's."""
    errors, seen = [], set()
    for index, row in enumerate(rows):
        value = tuple(row.get(key) or "" for key in keys)
        if value in seen:
            shown = "/".join(v for v in value if v)
            errors.append(
                {
                    "field": f"params.{field}.{index}.{keys[0]}",
                    "message": f"'{shown}' is listed twice.",
                }
            )
        seen.add(value)
    return errors


class ModelRouting(RoutingPolicy):
    kind = "model"

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = duplicate_rows(params.get("models") or [], "models", "model")
        sticky = params.get("stickyKey")
        if sticky and sticky.get("location") != "ip" and not (sticky.get("identifier") or ""):
            errors.append(
                {
                    "field": "params.stickyKey.identifier",
                    "message": f"Name the {sticky.get('location')} that carries the session key.",
                }
            )
        return errors


@register
class ModelRoundRobin(ModelRouting):
    """Each request goes to the next model in the list that is not suspended."""

    name = "model-round-robin"
    display_name = "Model Round Robin"
    description = (
        "Spreads requests evenly over several models of the provider; a model answering "
        "5xx or 429 is suspended for a while."
    )
    parameters_schema = {
        "type": "object",
        "properties": {
            "models": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "title": "Models",
                "description": "Add at least two; each request goes to the next one.",
                "x-table": True,
                "items": {
                    "type": "object",
                    "properties": {"model": MODEL_NAME},
                    "required": ["model"],
                    "additionalProperties": False,
                },
            },
            "suspendDuration": SUSPEND_DURATION,
            "stickyKey": STICKY_KEY,
        },
        "required": ["models"],
        "additionalProperties": False,
    }


@register
class ModelWeightedRoundRobin(ModelRouting):
    """Each model gets a share of the requests proportional to its weight."""

    name = "model-weighted-round-robin"
    display_name = "Model Weighted Round Robin"
    description = (
        "Spreads requests over several models of the provider in proportion to their "
        "weights; a model answering 5xx or 429 is suspended for a while."
    )
    parameters_schema = {
        "type": "object",
        "properties": {
            "models": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "title": "Models",
                "description": "A model with weight 3 gets three times the requests of one "
                "with weight 1.",
                "x-table": True,
                "items": {
                    "type": "object",
                    "properties": {
                        "model": MODEL_NAME,
                        "weight": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "title": "Weight",
                        },
                    },
                    "required": ["model", "weight"],
                    "additionalProperties": False,
                },
            },
            "suspendDuration": SUSPEND_DURATION,
        },
        "required": ["models"],
        "additionalProperties": False,
    }


@register
class ProviderFailover(RoutingPolicy):
    """Ordered fallbacks: the proxy's own provider first, then each target in turn. A
    target is a provider of the same wire format (checked when attached), optionally with
    the model to ask it for. Attempts stop at ``maxAttempts`` or ``deadlineSeconds``,
    whichever comes first, and never once a stream's first byte reached the client."""

    name = "provider-failover"
    display_name = "Provider Failover"
    description = (
        "Retries failed calls and falls back to other providers of the same API format, "
        "with backoff, a deadline and circuit breakers."
    )
    kind = "failover"
    parameters_schema = {
        "type": "object",
        "properties": {
            "targets": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10,
                "title": "Fallback targets",
                "description": "Tried in order after the proxy's own provider. Provider: a "
                "provider ID; model: the model to ask it for (empty keeps the request's).",
                "x-table": True,
                "items": {
                    "type": "object",
                    "properties": {
                        "provider": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 40,
                            "title": "Provider",
                        },
                        "model": {**MODEL_NAME, "minLength": 0},
                    },
                    "required": ["provider"],
                    "additionalProperties": False,
                },
            },
            "retryOn": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": list(RETRY_REASONS)},
                "default": list(RETRY_REASONS),
                "title": "Retry on",
                "description": "429: rate limited; 5xx: server errors; connect: the "
                "connection failed; timeout: a timeout passed.",
            },
            "maxAttempts": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10,
                "default": 3,
                "title": "Most attempts per request",
                "description": "Every try counts, the first one included.",
            },
            "backoff": {
                "type": "object",
                "title": "Backoff between attempts",
                "description": "Doubles from the first wait up to the longest, with jitter; "
                "an upstream's Retry-After is honoured within the deadline.",
                "default": {},
                "properties": {
                    "initialMs": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 60_000,
                        "default": 100,
                        "title": "First wait (ms)",
                    },
                    "maxMs": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 60_000,
                        "default": 2000,
                        "title": "Longest wait (ms)",
                    },
                },
                "additionalProperties": False,
                "x-advanced": True,
            },
            "deadlineSeconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 3600,
                "default": 60,
                "title": "Deadline per request (seconds)",
                "description": "No attempt starts after it; the caller gets the last failure.",
                "x-advanced": True,
            },
            "circuitBreaker": {
                "type": "object",
                "title": "Circuit breaker",
                "description": "A target failing this many times in a row is skipped for the "
                "cool-down, then tried again with one request (half-open).",
                "default": {},
                "properties": {
                    "enabled": {"type": "boolean", "default": True, "title": "Enabled"},
                    "failureThreshold": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 1000,
                        "default": 5,
                        "title": "Failures before opening",
                    },
                    "cooldownSeconds": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 86_400,
                        "default": 30,
                        "title": "Cool-down (seconds)",
                    },
                    "shared": {
                        "type": "boolean",
                        "default": True,
                        "title": "Shared by every gateway process (through Redis)",
                    },
                },
                "additionalProperties": False,
                "x-advanced": True,
            },
        },
        "required": ["targets"],
        "additionalProperties": False,
    }

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = duplicate_rows(params.get("targets") or [], "targets", "provider", "model")
        backoff = params.get("backoff") or {}
        if backoff.get("initialMs", 0) > backoff.get("maxMs", 0):
            errors.append(
                {
                    "field": "params.backoff.maxMs",
                    "message": "The longest wait cannot be shorter than the first.",
                }
            )
        return errors


def routing_targets(params: dict[str, Any]) -> list[dict[str, str]]:
    """A failover attachment's targets as ``{"provider", "model"}`` (model "" for none)."""
    return [
        {"provider": row["provider"], "model": row.get("model") or ""}
        for row in params.get("targets") or []
    ]
