"""Reads behind the Insights page and the usage summary API: usage records filtered by proxy,
gateway, key, model and time range, summarised into totals, a trend over time, the traffic
split, spend by proxy, key and model, retries and failovers, and errors by kind."""

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from gateways.models import Gateway, UsageOutcome, UsageRecord
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


# Attempts a routed call lists without calling the target: its circuit was open, or it
# cannot serve the request's operation.
SKIPPED_ATTEMPTS = ("circuit_open", "unsupported")

# Records that reported tokens but could not be priced (their model has no price).
UNPRICED = Q(cost_usd__isnull=True, total_tokens__gt=0)
ZERO_USD = Decimal("0")
# How many proxies, keys or models a spend table names before summing the rest as "other".
TOP_SPENDERS = 8


@dataclass(frozen=True)
class UsageFilter:
    proxy: str = ""
    gateway: str = ""
    api_key: str = ""
    model: str = ""
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
    if usage_filter.model:
        records = records.filter(model=usage_filter.model)
    if usage_filter.api_key:
        try:
            records = records.filter(api_key=uuid.UUID(usage_filter.api_key))
        except ValueError:
            records = records.none()
    return records


PERCENTILES = (50, 95, 99)


def percentiles(records: QuerySet, field: str) -> dict[str, float | None]:
    """p50, p95 and p99 of ``field`` over the records that have it, by nearest rank (the
    smallest value with at least p % of the values at or below it): one ordered read per
    percentile, the same on SQLite and PostgreSQL."""
    values = records.filter(**{f"{field}__isnull": False}).order_by(field)
    count = values.count()
    found = {}
    for point in PERCENTILES:
        if not count:
            found[f"p{point}"] = None
            continue
        rank = max(math.ceil(point / 100 * count), 1) - 1
        found[f"p{point}"] = round(values.values_list(field, flat=True)[rank], 1)
    return found


def usage_summary(records: QuerySet) -> dict[str, Any]:
    """Total requests, average latency and its percentiles, streams' time to first byte,
    success rate (2xx/3xx), tokens (cached input among them), spend in USD, and how many
    records reported tokens no price was known for."""
    totals = records.aggregate(
        requests=Count("id"),
        succeeded=Count("id", filter=Q(status_code__lt=400)),
        latency=Avg("latency_ms"),
        tokens=Sum("total_tokens"),
        cached=Sum("cached_tokens"),
        cost=Sum("cost_usd"),
        unpriced=Count("id", filter=UNPRICED),
    )
    requests = totals["requests"]
    return {
        "requests": requests,
        "avg_latency_ms": round(totals["latency"] or 0, 1),
        "latency_ms": percentiles(records, "latency_ms"),
        "first_byte_ms": percentiles(records, "first_byte_ms"),
        "success_rate": round(100 * totals["succeeded"] / requests, 1) if requests else None,
        "tokens": totals["tokens"] or 0,
        "cached_tokens": totals["cached"] or 0,
        "cost_usd": totals["cost"] or ZERO_USD,
        "unpriced": totals["unpriced"],
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
    """Requests, errors, tokens and spend per time bucket across the range, empty buckets
    included."""
    now = now or timezone.now()
    rows = (
        records.annotate(bucket=_truncate(time_range.bucket))
        .values("bucket")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum("cost_usd"),
        )
        .order_by("bucket")
    )
    buckets: dict[datetime, dict[str, Any]] = {}
    start = _floor(now - time_range.span + time_range.bucket, time_range.bucket)
    moment = start
    while moment <= now:
        buckets[moment] = _empty_bucket(moment)
        moment += time_range.bucket
    for row in rows:
        key = _floor(row["bucket"], time_range.bucket)
        if key < start:
            continue
        bucket = buckets.setdefault(key, _empty_bucket(key))
        bucket["requests"] += row["requests"]
        bucket["errors"] += row["errors"]
        bucket["prompt"] += row["prompt"] or 0
        bucket["completion"] += row["completion"] or 0
        bucket["cost_usd"] += row["cost"] or ZERO_USD
    return [buckets[k] for k in sorted(buckets)]


def _empty_bucket(start: datetime) -> dict[str, Any]:
    return {
        "start": start,
        "requests": 0,
        "errors": 0,
        "prompt": 0,
        "completion": 0,
        "cost_usd": ZERO_USD,
    }


def traffic_by_proxy(records: QuerySet, limit: int = 8) -> list[dict[str, Any]]:
    """Requests per proxy, busiest first; the rest summed as "other"."""
    rows = list(records.values("proxy").annotate(requests=Count("id")).order_by("-requests"))
    top = [{"proxy": r["proxy"], "requests": r["requests"]} for r in rows[:limit]]
    rest = sum(r["requests"] for r in rows[limit:])
    if rest:
        top.append({"proxy": "other", "requests": rest})
    return top


def spend_by(records: QuerySet, field: str, limit: int = TOP_SPENDERS) -> list[dict[str, Any]]:
    """Spend, tokens and requests per ``field`` (``proxy``, ``api_key`` or ``model``), the
    largest spend first (then the busiest); beyond ``limit``, the rest summed as "other"
    (``other`` true). Records without a key count under a key of None."""
    rows = list(
        records.values(field)
        .annotate(requests=Count("id"), tokens=Sum("total_tokens"), cost=Sum("cost_usd"))
        .order_by()
    )
    # Sorted here: databases disagree on where a NULL (no spend) sorts.
    rows.sort(key=lambda r: (-(r["cost"] or ZERO_USD), -r["requests"], str(r[field] or "")))
    spend = [
        {
            field: row[field],
            "requests": row["requests"],
            "tokens": row["tokens"] or 0,
            "cost_usd": row["cost"] or ZERO_USD,
            "other": False,
        }
        for row in rows[:limit]
    ]
    rest = rows[limit:]
    if rest:
        spend.append(
            {
                field: None,
                "requests": sum(r["requests"] for r in rest),
                "tokens": sum(r["tokens"] or 0 for r in rest),
                "cost_usd": sum((r["cost"] or ZERO_USD for r in rest), ZERO_USD),
                "other": True,
            }
        )
    return spend


def spend_by_key(records: QuerySet, limit: int = TOP_SPENDERS) -> list[dict[str, Any]]:
    """``spend_by`` API key, each row with the key's ``name`` ("name (proxy, gh-…abcde)";
    empty for calls without a key, keys since deleted and the rest)."""
    rows = spend_by(records, "api_key", limit)
    ids = [row["api_key"] for row in rows if row["api_key"] is not None]
    keys = APIKey.objects.select_related("proxy").filter(pk__in=ids)
    names = {k.pk: f"{k.name} ({k.proxy.name}, {k.masked})" for k in keys}
    for row in rows:
        row["name"] = names.get(row["api_key"], "")
    return rows


def routing_by_proxy(records: QuerySet) -> dict[str, Any]:
    """Retried requests and failovers, in total and per proxy (most first), from the attempts
    routed calls list in ``details.attempts``. A request is retried when more than one
    upstream attempt was made (a target skipped for its open circuit is no attempt); it
    failed over when it succeeded on a target other than the proxy's own provider."""
    per_proxy: dict[str, dict[str, Any]] = {}
    # Only a call listing two attempts or more can be either (its own provider comes first).
    routed = records.filter(details__attempts__1__isnull=False)
    for proxy, provider, outcome, details in routed.values_list(
        "proxy", "provider", "outcome", "details"
    ).iterator():
        listed = details.get("attempts") if isinstance(details, dict) else None
        made = [
            a
            for a in listed or []
            if isinstance(a, dict) and a.get("reason") not in SKIPPED_ATTEMPTS
        ]
        retried = len(made) > 1
        failover = bool(made) and outcome == UsageOutcome.OK and made[-1].get("target") != provider
        if retried or failover:
            row = per_proxy.setdefault(proxy, {"proxy": proxy, "retried": 0, "failovers": 0})
            row["retried"] += retried
            row["failovers"] += failover
    rows = sorted(per_proxy.values(), key=lambda r: (-r["retried"] - r["failovers"], r["proxy"]))
    return {
        "retried": sum(r["retried"] for r in rows),
        "failovers": sum(r["failovers"] for r in rows),
        "by_proxy": rows,
    }


def errors_by_kind(records: QuerySet) -> list[dict[str, Any]]:
    counts = records.aggregate(
        **{key: Count("id", filter=condition) for key, _, condition in ERROR_KINDS}
    )
    return [{"kind": key, "label": label, "count": counts[key]} for key, label, _ in ERROR_KINDS]


def filter_choices(*, proxy: str = "", models: QuerySet | None = None) -> dict[str, list]:
    """Choices for the filter bar: proxies, gateways, keys (of the chosen proxy) and the
    models of ``models`` (usage records, e.g. those of the time range)."""
    keys = APIKey.objects.select_related("proxy").order_by("proxy__name", "name")
    if proxy:
        keys = keys.filter(proxy__slug=proxy)
    seen = []
    if models is not None:
        seen = list(
            models.exclude(model="").order_by("model").values_list("model", flat=True).distinct()
        )[:200]
    return {
        "proxies": [(p.slug, p.name) for p in Proxy.objects.order_by("name")],
        "gateways": [(g.slug, g.name) for g in Gateway.objects.order_by("name")],
        "keys": [(str(k.pk), f"{k.name} ({k.proxy.name}, {k.masked})") for k in keys[:200]],
        "models": [(model, model) for model in seen],
        "ranges": [(r.key, r.label) for r in RANGES.values()],
    }
