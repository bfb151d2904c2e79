"""One JSON line per request on the ``gatehouse.access`` logger (``run_gateway --access-log``):
what an operator needs to follow traffic, never a secret, a query string or a body."""

import logging

import orjson

from gateways.dataplane.call import UsageRow

log = logging.getLogger("gatehouse.access")


def enabled() -> bool:
    return log.isEnabledFor(logging.INFO)


def write(gateway: str, row: UsageRow) -> None:
    """Log the request ``row`` describes (the checked path only: the query string, which may
    carry a key, is never logged)."""
    line = {
        "time": row.created_at,
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
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "cached_tokens": row.cached_tokens,
        "cost_usd": None if row.cost_usd is None else float(row.cost_usd),
    }
    log.info(orjson.dumps(line).decode())
