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
    generate_latest,
    multiprocess,
)

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


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's in
    multiprocess mode."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def prepare_multiprocess_dir(path: str) -> None:
    """Empty (or create) the directory the workers will keep their counters in: files left by
    an earlier run would add its counts to this one's."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
