"""The Rate Limiting tab of providers and proxies: each rate-limit attachment with its limits
and their current consumption, read through ``guardrails.selectors.limits_consumption``.

Adding and editing go through the guardrail side panel (its catalog filtered to rate limits);
enable, disable and remove through the Guardrails tab's operation views."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timeuntil

from core.admin import changelist_url, user_may
from guardrails.models import GuardrailAttachment, ModelPrice
from guardrails.registry import get_policy
from guardrails.selectors import attachments_for, limits_consumption
from proxies.models import APIKey, APIKeyStatus

LIMIT_CATEGORY = "ratelimit"
# Per-key counters are read for at most this many keys (most recently used first).
KEYS_SHOWN = 20
# Per-resource default counters are read for at most this many resources.
RESOURCES_SHOWN = 20

STORE_MESSAGES = {
    "local": "Consumption cannot be shown: no Redis is configured (REDIS_URL), so every "
    "gateway process keeps its own counters in memory and each process enforces the limits "
    "on its own. Set REDIS_URL on the gateways and here to share and show them.",
    "unavailable": "Consumption cannot be read right now: Redis did not answer. Gateways "
    "apply each limit's failure mode until it is back.",
}
CATEGORY_UNITS = {
    "requests": "requests",
    "prompt": "prompt tokens",
    "completion": "completion tokens",
    "total": "total tokens",
}


def is_rate_limit_policy(policy: str) -> bool:
    policy_class = get_policy(policy) if policy else None
    return policy_class is not None and policy_class.category == LIMIT_CATEGORY


def recent_keys(keys) -> list[APIKey]:
    """The active keys whose per-key consumption is shown, most recently used first."""
    active = keys.filter(status=APIKeyStatus.ACTIVE).select_related("proxy")
    return list(active.order_by("-last_used_at", "-created_at")[:KEYS_SHOWN])


def concrete_resources(rows: list[dict[str, Any]] | None) -> list[str]:
    """Resources a request can name as they are (no wildcard method, no path parameter)."""
    out = []
    for row in rows or []:
        if not isinstance(row, dict):
            continue
        method, path = str(row.get("method") or "*").upper(), str(row.get("path") or "")
        if method != "*" and path and "{" not in path and "*" not in path:
            out.append(f"{method} {path}")
    return out[:RESOURCES_SHOWN]


class RateLimitsTabMixin:
    """Adds ``rate_limits_tab`` to an admin that also has ``GuardrailsTabMixin``."""

    def rate_limits_tab(
        self,
        request: HttpRequest,
        owner,
        *,
        keys: list[APIKey],
        resources: list[str],
        show_key_proxy: bool = False,
    ) -> dict[str, Any]:
        """What the Rate Limiting tab shows: the owner's limits, their consumption per key or
        resource where they count separately, and what the user may do."""
        attachments = [
            a
            for a in attachments_for(**{self.guardrail_owner_field: owner})
            if is_rate_limit_policy(a.policy)
        ]
        consumption = limits_consumption(
            attachments=attachments, key_ids=[str(k.pk) for k in keys], resources=resources
        )
        names = {
            str(k.pk): f"{k.name} ({k.masked})" + (f" on {k.proxy.name}" if show_key_proxy else "")
            for k in keys
        }
        rows = []
        for attachment in attachments:
            policy = get_policy(attachment.policy)
            counters = consumption["limits"].get(attachment.pk, [])
            ops = ("enable", "disable", "remove")
            urls = {
                op: self._guardrail_url("guardrail_operation", owner, attachment.pk, op)
                for op in ops
            }
            urls["edit"] = self._guardrail_url("guardrail_edit", owner, attachment.pk)
            params = attachment.params or {}
            rows.append(
                {
                    "attachment": attachment,
                    "display_name": policy.display_name,
                    "scope": "Per API key" if params.get("scope") == "per_key" else "Shared",
                    "failure_mode": params.get("failureMode", ""),
                    "per_resource": bool(params.get("perResource")),
                    "counters": [_counter_view(c, names) for c in counters],
                    "urls": urls,
                }
            )
        may_view_prices = user_may(request, ModelPrice, "view") or user_may(
            request, ModelPrice, "change"
        )
        return {
            "rows": rows,
            "store": consumption["store"],
            "store_message": STORE_MESSAGES.get(consumption["store"], ""),
            "keys_shown": len(keys),
            "keys_capped": len(keys) >= KEYS_SHOWN,
            "add_url": self._guardrail_url("guardrail_catalog", owner)
            + f"?category={LIMIT_CATEGORY}",
            "can_add": user_may(request, GuardrailAttachment, "add"),
            "can_change": user_may(request, GuardrailAttachment, "change"),
            "can_delete": user_may(request, GuardrailAttachment, "delete"),
            "prices_url": changelist_url(ModelPrice) if may_view_prices else "",
        }


def _counter_view(counter: dict[str, Any], key_names: dict[str, str]) -> dict[str, Any]:
    window = counter["window"]
    unit = window["unit"]
    per = unit if window["duration"] == 1 else f"{window['duration']} {unit}s"
    cost = counter["kind"] == "cost"
    amount = _usd(counter["limit"]) if cost else f"{counter['limit']:,}"
    what = "" if cost else " " + CATEGORY_UNITS.get(counter["category"], counter["category"])
    readings = []
    for reading in counter["readings"]:
        if counter["scope"] == "per_key":
            who = key_names.get(reading["key_id"], reading["key_id"])
        else:
            who = "All callers"
        readings.append(
            {
                "who": who,
                "resource": reading["resource"],
                **_usage_view(reading["usage"], cost),
            }
        )
    return {
        "title": f"{amount}{what} per {per}",
        "kind": counter["kind"],
        "resource": counter["resource"],
        "per_key": counter["scope"] == "per_key",
        "per_resource": counter["per_resource"] and not counter["resource"],
        "readings": readings,
    }


def _usage_view(usage: dict[str, Any] | None, cost: bool) -> dict[str, Any]:
    if usage is None:
        return {"known": False}
    used, reserved, limit = usage["used"], usage["reserved"], usage["limit"]
    taken = used + reserved
    percent = min(100, round(100 * taken / limit)) if limit else 100
    if cost:
        text = f"{_usd(used)} / {_usd(limit)}"
        reserved_text = f"{_usd(reserved)} reserved by requests in flight" if reserved else ""
    else:
        text = f"{used:,} / {limit:,}"
        reserved_text = ""
    return {
        "known": True,
        "used": used,
        "limit": limit,
        "remaining": usage["remaining"],
        "text": text,
        "reserved_text": reserved_text,
        "percent": percent,
        "level": "full" if percent >= 100 else "high" if percent >= 80 else "ok",
        "reset_at": usage["reset_at"],
        "resets_in": resets_in(usage["reset_at"]),
    }


def resets_in(moment: datetime, now: datetime | None = None) -> str:
    """'resets in 12 minutes'; seconds under a minute, where timeuntil would say 0 minutes."""
    now = now or timezone.now()
    seconds = int((moment - now).total_seconds())
    if seconds < 60:
        seconds = max(seconds, 1)
        return f"resets in {seconds} second{'s' if seconds != 1 else ''}"
    return "resets in " + timeuntil(moment, now, depth=1).replace("\xa0", " ")


def _usd(value: float) -> str:
    if value and abs(value) < 0.01:
        return f"${value:.6f}".rstrip("0")
    return f"${value:,.2f}"
