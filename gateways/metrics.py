"""The gateway's Prometheus metrics, at ``GET /_gatehouse/metrics`` (next to the health check).

A gateway run with several worker processes (``run_gateway --workers N``) keeps its counters
in files under ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, which the
command sets up), so whichever worker answers a scrape reports the sum over all of them.
"""

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

import guardrails.limits.metrics  # noqa: F401  (registers the limit counters)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()

# The usage writer's losses and repairs (touched off the request path, by its thread).
USAGE_ROWS_SET_ASIDE = Counter(
    "gatehouse_usage_rows_set_aside",
    "Usage records the database refused even alone, kept in memory for inspection and not "
    "written, by reason (the error's class name).",
    ["reason"],
)
USAGE_VALUES_CLAMPED = Counter(
    "gatehouse_usage_values_clamped",
    "Values of usage records repaired to fit their column before being written (control "
    "characters removed, cut to length, out-of-range numbers emptied ...), by field.",
    ["field"],
)

# Calls whose usage could not be priced (touched at the end of such a call only).
USAGE_UNPRICED = Counter(
    "gatehouse_usage_unpriced",
    "Calls that reported token usage for a model the pricing table has no price for: their "
    "usage records carry no cost and cost budgets count them as 0 USD (or their fallback "
    "price), by provider.",
    ["provider"],
)


# --- requests (gateways.dataplane.observe records them when a call ends) ---------------------
# Labels are bounded: proxy, gateway and provider IDs come from the configuration; a model is
# named only when the configuration or the price list knows it ("other" otherwise); never a
# key ID, a path or text from a caller.
ROUTE = ["proxy", "gateway", "provider"]
# Seconds: from a millisecond to the longest answers an LLM streams.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)

REQUESTS = Counter(
    "gatehouse_requests",
    "Requests answered, by proxy, gateway, provider, model, status class (2xx ...) and outcome "
    "(ok, upstream_error, rejected, failed, cancelled).",
    [*ROUTE, "model", "status_class", "outcome"],
)
REQUEST_DURATION = Histogram(
    "gatehouse_request_duration_seconds",
    "Time from a request's arrival to its last byte, as the gateway saw it.",
    ROUTE,
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_DURATION = Histogram(
    "gatehouse_upstream_duration_seconds",
    "Time from a request's arrival until the upstream's answer started (its headers).",
    ROUTE,
    buckets=LATENCY_BUCKETS,
)
FIRST_BYTE = Histogram(
    "gatehouse_time_to_first_byte_seconds",
    "Streams: time from a request's arrival to the first byte sent to the client.",
    ROUTE,
    buckets=LATENCY_BUCKETS,
)
TOKENS = Counter(
    "gatehouse_tokens",
    "Tokens the upstreams reported, by kind: prompt (all input), completion (all output), "
    "cached (input read from the provider's prompt cache).",
    [*ROUTE, "model", "kind"],
)
COST = Counter(
    "gatehouse_cost_usd",
    "What the calls cost by the price table, in US dollars.",
    [*ROUTE, "model"],
)
GUARDRAIL_ACTIONS = Counter(
    "gatehouse_guardrail_actions",
    "Guardrails that modified or intervened on a request or a response, by policy, action and "
    "direction.",
    ["proxy", "gateway", "policy", "action", "direction"],
)
LIMIT_REJECTIONS = Counter(
    "gatehouse_limit_rejections",
    "Requests a rate limit or budget refused (429, or 503 when it failed closed), by policy.",
    ["proxy", "gateway", "policy", "status_code"],
)
UPSTREAM_ATTEMPTS = Counter(
    "gatehouse_upstream_attempts",
    "Attempts of routed calls (round robin, failover), by target and result: ok (answered "
    "and delivered), retried (failed and the next attempt was made), failed, skipped (circuit "
    "open, or the target does not serve the call).",
    ["proxy", "gateway", "target", "result"],
)
FAILOVERS = Counter(
    "gatehouse_failovers",
    "Routed calls delivered by a target other than the proxy's own provider.",
    ["proxy", "gateway"],
)
RETRIES = Counter(
    "gatehouse_retries",
    "Routed calls that took more than one attempt.",
    ["proxy", "gateway"],
)

# --- the process (set by the heartbeat thread every second) ----------------------------------
SNAPSHOT_REVISION = Gauge(
    "gatehouse_snapshot_revision",
    "The configuration revision the gateway process serves.",
    ["gateway"],
    multiprocess_mode="max",
)
SNAPSHOT_AGE = Gauge(
    "gatehouse_snapshot_age_seconds",
    "Seconds since the process last read its configuration from the database (it keeps "
    "serving its snapshot while the database is away).",
    ["gateway"],
    multiprocess_mode="max",
)
USAGE_QUEUE = Gauge(
    "gatehouse_usage_queue_depth",
    "Usage records waiting to be written.",
    ["gateway"],
    multiprocess_mode="livesum",
)
USAGE_DROPPED = Gauge(
    "gatehouse_usage_rows_dropped",
    "Usage records lost since the process started because the queue was full while the "
    "database was away.",
    ["gateway"],
    multiprocess_mode="livesum",
)
OPEN_CIRCUITS = Gauge(
    "gatehouse_open_circuits",
    "Failover targets whose circuit is open or half-open in this process.",
    ["gateway"],
    multiprocess_mode="max",
)


def exposition(*collectors: Collector) -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's in
    multiprocess mode, with ``collectors`` that read theirs when scraped."""
    if os.environ.get(MULTIPROCESS_DIR):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    if not collectors:
        return generate_latest(counted)
    read = CollectorRegistry()
    for collector in collectors:
        read.register(collector)
    return generate_latest(counted) + generate_latest(read)


def prepare_multiprocess_dir(path: str) -> None:
    """Empty (or create) the directory the workers will keep their counters in: files left by
    an earlier run would add its counts to this one's."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
