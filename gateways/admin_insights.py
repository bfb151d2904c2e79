"""The admin's Insights page: totals, charts (inline SVG, no external assets) and spend tables
of the usage records matching the filters, read through ``gateways.insights``."""

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from gateways import insights

# The left margin holds the scale's top label: up to nine characters ("$0.000005").
CHART_WIDTH, CHART_HEIGHT, CHART_LEFT, CHART_BOTTOM = 600, 200, 64, 22
PALETTE = ("#4f46e5", "#0891b2", "#16a34a", "#d97706", "#db2777", "#7c3aed", "#0d9488", "#64748b")
KIND_COLOURS = {
    "guardrail": "#d97706",
    "rate_limit": "#7c3aed",
    "upstream": "#dc2626",
    "auth": "#0891b2",
    "other": "#64748b",
}


def _x_labels(buckets: list[dict[str, Any]], step: float, bucket_format: str) -> list[dict]:
    if not buckets:
        return []
    last = len(buckets) - 1
    return [
        {
            "x": round(CHART_LEFT + step * (i + 0.5), 1),
            "text": timezone.localtime(buckets[i]["start"]).strftime(bucket_format),
            # The outer labels grow inwards so they stay inside the drawing.
            "anchor": "start" if i == 0 and last else "end" if i == last and last else "middle",
        }
        for i in sorted({0, last // 2, last})
    ]


def line_chart(
    buckets: list[dict[str, Any]], series: list[tuple[str, str, str]], bucket_format: str
) -> dict[str, Any]:
    """SVG coordinates for one polyline per ``(key, label, colour)`` over the buckets."""
    plot_w, plot_h = CHART_WIDTH - CHART_LEFT - 8, CHART_HEIGHT - CHART_BOTTOM - 8
    top = max([1, *(b[key] for b in buckets for key, _, _ in series)])
    step = plot_w / max(len(buckets), 1)

    def y(value: float) -> float:
        return round(8 + plot_h - plot_h * value / top, 1)

    lines = []
    for key, label, colour in series:
        points = " ".join(
            f"{round(CHART_LEFT + step * (i + 0.5), 1)},{y(b[key])}" for i, b in enumerate(buckets)
        )
        lines.append({"points": points, "label": label, "colour": colour})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "lines": lines,
        "top": top,
        "top_y": y(top),
        "base_y": y(0),
        "left": CHART_LEFT,
        "right": CHART_WIDTH - 8,
        "x_labels": _x_labels(buckets, step, bucket_format),
        "label_y": CHART_HEIGHT - 6,
    }


def stacked_bar_chart(
    buckets: list[dict[str, Any]],
    series: list[tuple[str, str, str]],
    bucket_format: str,
    *,
    value_format: Callable[[Any], str] = str,
    least_top: float = 1,
) -> dict[str, Any]:
    """SVG rectangles for stacked bars of the ``(key, label, colour)`` series per bucket;
    values are shown with ``value_format``, the scale reaches at least ``least_top``."""
    plot_w, plot_h = CHART_WIDTH - CHART_LEFT - 8, CHART_HEIGHT - CHART_BOTTOM - 8
    top = max([least_top, *(sum(b[key] for key, _, _ in series) for b in buckets)])
    step = plot_w / max(len(buckets), 1)
    bars = []
    for i, bucket in enumerate(buckets):
        base = 8 + plot_h
        for key, label, colour in series:
            height = plot_h * bucket[key] / top
            if height <= 0:
                continue
            base -= height
            bars.append(
                {
                    "x": round(CHART_LEFT + step * i + step * 0.15, 1),
                    "y": round(base, 1),
                    "width": round(max(step * 0.7, 1), 1),
                    "height": round(height, 1),
                    "colour": colour,
                    "title": f"{label}: {value_format(bucket[key])}",
                }
            )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bars": bars,
        "series": [{"label": label, "colour": colour} for _, label, colour in series],
        "top": value_format(top),
        "top_value": top,
        "top_y": 8,
        "base_y": 8 + plot_h,
        "left": CHART_LEFT,
        "right": CHART_WIDTH - 8,
        "x_labels": _x_labels(buckets, step, bucket_format),
        "label_y": CHART_HEIGHT - 6,
    }


def share_bars(rows: list[dict[str, Any]], label_key: str, value_key: str, colours) -> list:
    """Horizontal bars: each row's share of the largest, with a colour."""
    top = max([1, *(r[value_key] for r in rows)])
    return [
        {
            "label": r[label_key],
            "value": r[value_key],
            "percent": round(100 * r[value_key] / top, 1),
            "colour": colours(r, i),
        }
        for i, r in enumerate(rows)
    ]


def format_usd(amount: Decimal | float) -> str:
    """An amount as people read it: cents from a dollar up, six decimals below (a call costs
    fractions of a cent); the API gives every amount exactly."""
    amount = Decimal(str(amount))
    if amount >= 1:
        return f"${amount:,.2f}"
    return "$0" if amount == 0 else f"${amount:.6f}"


def axis_usd(amount: float) -> str:
    """A scale's amount, short: no trailing zeros below a dollar."""
    value = Decimal(str(amount))
    return format_usd(value) if value >= 1 else f"${value.normalize():f}"


def nice_ceiling(amount: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten that is at least ``amount`` (> 0): a
    scale top people read at a glance."""
    power = 10.0 ** math.floor(math.log10(amount))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= amount * (1 - 1e-12))


def spend_rows(rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> list:
    """A spend table's rows, each with the share of the largest spend for its bar."""
    top = max([Decimal("0.000000001"), *(r["cost_usd"] for r in rows)])
    return [
        {
            "label": "Other" if row["other"] else label(row),
            "requests": row["requests"],
            "tokens": row["tokens"],
            "cost": format_usd(row["cost_usd"]),
            "percent": round(float(100 * row["cost_usd"] / top), 1),
            "colour": PALETTE[i % len(PALETTE)],
        }
        for i, row in enumerate(rows)
    ]


def spend_chart(trend: list[dict[str, Any]], bucket_format: str) -> dict[str, Any]:
    """Bars of the spend per bucket, on a scale up to a round amount ($0.01 without spend)."""
    buckets = [{"start": b["start"], "cost": float(b["cost_usd"])} for b in trend]
    most = max([0.0, *(b["cost"] for b in buckets)])
    chart = stacked_bar_chart(
        buckets,
        [("cost", "Spend (USD)", PALETTE[2])],
        bucket_format,
        value_format=format_usd,
        least_top=nice_ceiling(most) if most > 0 else 0.01,
    )
    chart["top"] = axis_usd(chart["top_value"])
    return chart


def insights_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The Insights page: totals and charts of the usage records matching the filters."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    usage_filter = insights.UsageFilter(
        proxy=request.GET.get("proxy", ""),
        gateway=request.GET.get("gateway", ""),
        api_key=request.GET.get("api_key", ""),
        model=request.GET.get("model", ""),
        range=request.GET.get("range", insights.DEFAULT_RANGE),
    )
    time_range = usage_filter.time_range
    now = timezone.now()
    records = insights.usage_records(usage_filter, now=now)
    trend = insights.usage_trend(records, time_range, now=now)
    # The model choices: every model of the range, whichever one is chosen.
    in_range = insights.usage_records(replace(usage_filter, model=""), now=now)
    summary = insights.usage_summary(records)
    if time_range.bucket >= timedelta(days=1):
        bucket_format = "%b %d"
    elif time_range.span > timedelta(days=1):
        bucket_format = "%b %d %H:%M"
    else:
        bucket_format = "%H:%M"
    errors = insights.errors_by_kind(records)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Insights",
        "filter": usage_filter,
        "time_range": time_range,
        "choices": insights.filter_choices(proxy=usage_filter.proxy, models=in_range),
        "summary": summary,
        "spend": format_usd(summary["cost_usd"]),
        "request_chart": line_chart(
            trend,
            [("requests", "Requests", PALETTE[0]), ("errors", "Errors", "#dc2626")],
            bucket_format,
        ),
        "token_chart": stacked_bar_chart(
            trend,
            [
                ("prompt", "Prompt tokens", PALETTE[0]),
                ("completion", "Completion tokens", PALETTE[1]),
            ],
            bucket_format,
        ),
        "spend_chart": spend_chart(trend, bucket_format),
        "spend_by_proxy": spend_rows(insights.spend_by(records, "proxy"), lambda r: r["proxy"]),
        "spend_by_key": spend_rows(
            insights.spend_by_key(records), lambda r: r["name"] or str(r["api_key"] or "No key")
        ),
        "spend_by_model": spend_rows(
            insights.spend_by(records, "model"), lambda r: r["model"] or "(none)"
        ),
        "traffic": share_bars(
            insights.traffic_by_proxy(records),
            "proxy",
            "requests",
            lambda row, i: PALETTE[i % len(PALETTE)],
        ),
        "routing": insights.routing_by_proxy(records),
        "errors": share_bars(
            errors, "label", "count", lambda row, i: KIND_COLOURS.get(row["kind"], PALETTE[-1])
        ),
        "error_total": sum(e["count"] for e in errors),
    }
    return TemplateResponse(request, "admin/gateways/insights.html", context)
