"""The Routing tab of providers and proxies: the routing policies attached (round robins,
failover) and, on a deployed proxy, the state of each routing target as its gateways report
it (``deployments.selectors.proxy_routing_state``).

Adding and editing go through the guardrail side panel (its catalog filtered to routing);
enable, disable and remove through the Guardrails tab's operation views."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timeuntil

from core.admin import user_may
from guardrails.catalog.routing import ROUTING_CATEGORY
from guardrails.models import GuardrailAttachment
from guardrails.registry import get_policy
from guardrails.selectors import attachments_for

STATE_LABELS = {
    "closed": "Closed",
    "half_open": "Half-open",
    "suspended": "Suspended",
    "open": "Open",
}
ROLE_LABELS = {
    "primary": "Proxy's provider",
    "failover": "Failover target",
    "model": "Round robin model",
    "reported": "Reported by a gateway",
}


def is_routing_policy(policy: str) -> bool:
    policy_class = get_policy(policy) if policy else None
    return policy_class is not None and policy_class.category == ROUTING_CATEGORY


def routing_summary(params: dict[str, Any]) -> str:
    """A one-line reminder of a routing attachment: its models or its targets."""
    if params.get("targets"):
        names = [
            "/".join(part for part in (t.get("provider"), t.get("model")) if part)
            for t in params["targets"]
        ]
        return (
            f"Falls back to {', '.join(names)}; up to {params.get('maxAttempts')} attempts "
            f"within {params.get('deadlineSeconds')} s"
        )
    models = [
        f"{m.get('model')} (weight {m['weight']})" if "weight" in m else str(m.get("model"))
        for m in params.get("models") or []
    ]
    return f"Models: {', '.join(models)}; a failing model rests {params.get('suspendDuration')} s"


class RoutingTabMixin:
    """Adds ``routing_tab`` to an admin that also has ``GuardrailsTabMixin``."""

    def routing_tab(
        self, request: HttpRequest, owner, *, state: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """What the Routing tab shows: the owner's routing policies, what the user may do,
        and, given a proxy's ``state``, each target's circuit."""
        rows = []
        for attachment in attachments_for(**{self.guardrail_owner_field: owner}):
            if not is_routing_policy(attachment.policy):
                continue
            ops = ("enable", "disable", "remove")
            urls = {
                op: self._guardrail_url("guardrail_operation", owner, attachment.pk, op)
                for op in ops
            }
            urls["edit"] = self._guardrail_url("guardrail_edit", owner, attachment.pk)
            rows.append(
                {
                    "attachment": attachment,
                    "display_name": get_policy(attachment.policy).display_name,
                    "summary": routing_summary(attachment.params or {}),
                    "urls": urls,
                }
            )
        return {
            "rows": rows,
            "add_url": self._guardrail_url("guardrail_catalog", owner)
            + f"?category={ROUTING_CATEGORY}",
            "can_add": user_may(request, GuardrailAttachment, "add"),
            "can_change": user_may(request, GuardrailAttachment, "change"),
            "can_delete": user_may(request, GuardrailAttachment, "delete"),
            "state": _state_view(state) if state is not None else None,
        }


def inherited_routing(provider) -> list[dict[str, Any]]:
    """The provider's routing policies, as a proxy on it shows them (read-only)."""
    return [
        {
            "display_name": get_policy(a.policy).display_name,
            "enabled": a.enabled,
            "summary": routing_summary(a.params or {}),
        }
        for a in attachments_for(provider=provider)
        if is_routing_policy(a.policy)
    ]


def _state_view(state: dict[str, Any]) -> dict[str, Any]:
    now = timezone.now()
    return {
        "deployed": bool(state["gateways"]),
        "gateways": state["gateways"],
        "targets": [
            {
                **target,
                "state_label": STATE_LABELS.get(target["state"], target["state"]),
                "role_label": ROLE_LABELS.get(target["role"], target["role"]),
                "until_text": _until(target["until"], now),
                "seen_by": ", ".join(
                    f"{p['gateway']} ({p['hostname']}:{p['pid']})" for p in target["processes"]
                ),
            }
            for target in state["targets"]
        ],
    }


def _until(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    if moment <= now:
        return "due now"
    if (moment - now).total_seconds() < 60:
        return f"in {max(1, int((moment - now).total_seconds()))} s"
    return "in " + timeuntil(moment, now, depth=1).replace("\xa0", " ")
