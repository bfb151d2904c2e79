"""Prometheus counters of the rate-limit store's failures, served by each gateway at
``/_gatehouse/metrics``. Only the failure paths touch them: the request path never does.
(The names end in ``_total`` in the exposition.)"""

from prometheus_client import Counter

STORE_FAILURES = Counter(
    "gatehouse_limit_store_failures",
    "Calls to the rate-limit store (Redis) that failed or were refused while it cooled down "
    "after a failure, by operation (admit, settle).",
    ["operation"],
)
UNCHECKED_REQUESTS = Counter(
    "gatehouse_limit_unchecked_requests",
    "Requests served without their limits counted: the store was unavailable and every limit "
    "of the request fails open.",
)
UNAVAILABLE_REJECTIONS = Counter(
    "gatehouse_limit_unavailable_rejections",
    "Requests answered 503: the store was unavailable and a limit of the request fails closed.",
)
