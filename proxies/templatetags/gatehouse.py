"""Template filters for the admin pages."""

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from deployments.models import CURRENT_STATUSES, Deployment
from gateways.insights import UsageFilter, usage_records, usage_summary
from gateways.selectors import gateways_with_status
from proxies.models import Provider, Proxy

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> str:
    """'just now' within a minute, else '3 minutes ago' (Django's timesince)."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


@register.simple_tag(takes_context=True)
def gatehouse_overview(context) -> dict[str, Any]:
    """The admin home's summary: what exists, what is live, and the last day's traffic."""
    user = context["request"].user
    gateways = list(gateways_with_status())
    return {
        "providers": Provider.objects.count(),
        "proxies": Proxy.objects.count(),
        "live": Deployment.objects.filter(status__in=CURRENT_STATUSES).count(),
        "gateways": len(gateways),
        "active_gateways": sum(1 for g in gateways if g.is_active),
        "usage": usage_summary(usage_records(UsageFilter(range="24h")))
        if user.has_perm("gateways.view_usagerecord")
        else None,
        "can_add_proxy": user.has_perm("proxies.add_proxy"),
    }
