"""One JSON line per request on the ``gatehouse.access`` logger (``run_gateway --access-log``):
what an operator needs to follow traffic, never a secret, a query string or a body. The
logger's JSON formatter adds the time and writes the line."""

import logging

from gateways.dataplane.call import Call, UsageRow

log = logging.getLogger("gatehouse.access")


def enabled() -> bool:
    return log.isEnabledFor(logging.INFO)


def write(gateway: str, call: Call, row: UsageRow) -> None:
    """Log the request ``row`` describes (the checked path only: the query string, which may
    carry a key, is never logged)."""
    context = call.span.get_span_context() if call.span is not None else None
    fields = {
        "plane": "gateway",
        "gateway": gateway,
        "proxy": row.proxy,
        "key_id": row.api_key,
        "method": row.method,
        "path": row.resource,
        "model": row.model,
        "status": row.status_code,
        "outcome": row.outcome,
        "reason": row.reason,
        "streamed": row.streamed,
        "latency_ms": row.latency_ms,
        "upstream_latency_ms": row.upstream_latency_ms,
        "first_byte_ms": row.first_byte_ms,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "cached_tokens": row.cached_tokens,
        "cost_usd": None if row.cost_usd is None else float(row.cost_usd),
        "trace_id": format(context.trace_id, "032x") if context and context.is_valid else None,
    }
    log.info("request", extra=fields)
