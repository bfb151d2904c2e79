"""Reads behind the Insights page: usage records filtered by proxy, gateway, key and time
range, summarised into totals, a trend over time, the traffic split and errors by kind."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from gateways.models import Gateway, UsageRecord
from proxies.models import APIKey, Proxy


@dataclass(frozen=True)
class TimeRange:
    key: str
    label: str
    span: timedelta
    bucket: timedelta


RANGES = {
    r.key: r
    for r in (
        TimeRange("1h", "Last hour", timedelta(hours=1), timedelta(minutes=1)),
        TimeRange("24h", "Last 24 hours", timedelta(hours=24), timedelta(hours=1)),
        TimeRange("7d", "Last 7 days", timedelta(days=7), timedelta(hours=6)),
        TimeRange("30d", "Last 30 days", timedelta(days=30), timedelta(days=1)),
    )
}
DEFAULT_RANGE = "24h"

# Errors by kind: what a platform team acts on differently.
ERROR_KINDS = (
    ("guardrail", "Guardrail (422)", Q(status_code=422)),
    ("rate_limit", "Rate limit (429)", Q(status_code=429)),
    ("upstream", "Upstream (5xx)", Q(status_code__gte=500)),
    ("auth", "Key rejected (401/403)", Q(status_code__in=(401, 403))),
    (
        "other",
        "Other client errors (4xx)",
        Q(status_code__gte=400, status_code__lt=500) & ~Q(status_code__in=(401, 403, 422, 429)),
    ),
)


@dataclass(frozen=True)
class UsageFilter:
    proxy: str = ""
    gateway: str = ""
    api_key: str = ""
    range: str = DEFAULT_RANGE

    @property
    def time_range(self) -> TimeRange:
        return RANGES.get(self.range, RANGES[DEFAULT_RANGE])


def usage_records(usage_filter: UsageFilter, *, now: datetime | None = None) -> QuerySet:
    """Records inside the filter's time range, for its proxy, gateway and key if set."""
    now = now or timezone.now()
    records = UsageRecord.objects.filter(created_at__gt=now - usage_filter.time_range.span)
    if usage_filter.proxy:
        records = records.filter(proxy=usage_filter.proxy)
    if usage_filter.gateway:
        records = records.filter(gateway=usage_filter.gateway)
    if usage_filter.api_key:
        try:
            records = records.filter(api_key=uuid.UUID(usage_filter.api_key))
        except ValueError:
            records = records.none()
    return records


def usage_summary(records: QuerySet) -> dict[str, Any]:
    """Total requests, average latency, success rate (2xx/3xx) and tokens."""
    totals = records.aggregate(
        requests=Count("id"),
        succeeded=Count("id", filter=Q(status_code__lt=400)),
        latency=Avg("latency_ms"),
        tokens=Sum("total_tokens"),
    )
    requests = totals["requests"]
    return {
        "requests": requests,
        "avg_latency_ms": round(totals["latency"] or 0, 1),
        "success_rate": round(100 * totals["succeeded"] / requests, 1) if requests else None,
        "tokens": totals["tokens"] or 0,
    }


def _truncate(bucket: timedelta):
    if bucket < timedelta(hours=1):
        return TruncMinute("created_at")
    if bucket < timedelta(days=1):
        return TruncHour("created_at")
    return TruncDay("created_at")


def _floor(moment: datetime, bucket: timedelta) -> datetime:
    moment = moment.astimezone(timezone.get_current_timezone())
    if bucket >= timedelta(days=1):
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket >= timedelta(hours=1):
        hours = int(bucket.total_seconds() // 3600)
        return moment.replace(
            hour=moment.hour - moment.hour % hours, minute=0, second=0, microsecond=0
        )
    return moment.replace(second=0, microsecond=0)


def usage_trend(
    records: QuerySet, time_range: TimeRange, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Requests, errors and tokens per time bucket across the range, empty buckets included."""
    now = now or timezone.now()
    rows = (
        records.annotate(bucket=_truncate(time_range.bucket))
        .values("bucket")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
        )
        .order_by("bucket")
    )
    buckets: dict[datetime, dict[str, Any]] = {}
    start = _floor(now - time_range.span + time_range.bucket, time_range.bucket)
    moment = start
    while moment <= now:
        buckets[moment] = {
            "start": moment,
            "requests": 0,
            "errors": 0,
            "prompt": 0,
            "completion": 0,
        }
        moment += time_range.bucket
    for row in rows:
        key = _floor(row["bucket"], time_range.bucket)
        if key < start:
            continue
        bucket = buckets.setdefault(
            key, {"start": key, "requests": 0, "errors": 0, "prompt": 0, "completion": 0}
        )
        bucket["requests"] += row["requests"]
        bucket["errors"] += row["errors"]
        bucket["prompt"] += row["prompt"] or 0
        bucket["completion"] += row["completion"] or 0
    return [buckets[k] for k in sorted(buckets)]


def traffic_by_proxy(records: QuerySet, limit: int = 8) -> list[dict[str, Any]]:
    """Requests per proxy, busiest first; the rest summed as "other"."""
    rows = list(records.values("proxy").annotate(requests=Count("id")).order_by("-requests"))
    top = [{"proxy": r["proxy"], "requests": r["requests"]} for r in rows[:limit]]
    rest = sum(r["requests"] for r in rows[limit:])
    if rest:
        top.append({"proxy": "other", "requests": rest})
    return top


def errors_by_kind(records: QuerySet) -> list[dict[str, Any]]:
    counts = records.aggregate(
        **{key: Count("id", filter=condition) for key, _, condition in ERROR_KINDS}
    )
    return [{"kind": key, "label": label, "count": counts[key]} for key, label, _ in ERROR_KINDS]


def filter_choices(*, proxy: str = "") -> dict[str, list[tuple[str, str]]]:
    """Choices for the filter bar: proxies, gateways and keys (of the chosen proxy)."""
    keys = APIKey.objects.select_related("proxy").order_by("proxy__name", "name")
    if proxy:
        keys = keys.filter(proxy__slug=proxy)
    return {
        "proxies": [(p.slug, p.name) for p in Proxy.objects.order_by("name")],
        "gateways": [(g.slug, g.name) for g in Gateway.objects.order_by("name")],
        "keys": [(str(k.pk), f"{k.name} ({k.proxy.name}, {k.masked})") for k in keys[:200]],
        "ranges": [(r.key, r.label) for r in RANGES.values()],
    }
