"""Rate limits and budgets: request counts, token counts and cost in USD, exact across every
gateway process.

Modules: ``windows`` (calendar-aligned fixed windows), ``rules`` (compiled counters),
``backends`` (Redis with Lua scripts, or in-process), ``pricing`` (the model price table),
``limiter`` (admit / settle / release), ``headers`` (the rate-limit response headers). The
policies users attach live in ``guardrails.catalog.ratelimit``.

Interface for the data plane
----------------------------
Once per process (in the ASGI lifespan)::

    limiter = Limiter.from_settings()   # Redis at REDIS_URL, else in-process counters
    ...
    await limiter.close()               # at shutdown

Whenever a snapshot is (re)built, off the event loop::

    limiter.prices = price_table()  # guardrails.selectors: the admin-editable table (ORM)
    limits = compile_limits(snapshot["guardrails"]["proxy"], snapshot["guardrails"]["provider"])

``compile_limits`` returns a ``LimitSet`` (falsy when the route has no limits) and raises
``ChainCompileError`` like ``compile_chain``, which skips these policies. Per request::

    decision = await limiter.admit(limits, LimitContext(
        key_id=key.id,                       # None without an API key
        resource="POST /chat/completions",   # the matched resource (method + path template)
        model=model, body=parsed_body_or_None, body_bytes=len(raw_body)))
    if not decision.allowed:
        # decision.status: 429 (over a limit) or 503 (fail-closed limit, store down);
        # respond in the called API's error format with decision.message, send
        # decision.headers (Retry-After included); decision.rejected_label for the usage record.
    # else forward, and add decision.headers to the response headers (may be empty).

After the upstream answered (``decision.reservation`` may be None; both calls accept it, and
both only queue the adjustment and return at once: the response never waits for the store)::

    limiter.settle(decision.reservation, usage, model=model_or_None, cost_nano=cost)
        # usage: {"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"?,
        # "cache_write_tokens"?}, or None when the response reported no usage or the client
        # left mid-stream (a cost reservation is then charged in full); cost: the nano-dollars
        # the usage row records (priced once from ``limiter.prices``), or None to price here
    limiter.release(decision.reservation)
        # instead of settle when nothing was billed: connect error, upstream error status,
        # client gone before the upstream answered

A failed adjustment is logged and counted (``Limiter.backend_failures`` and the metrics in
``guardrails.limits.metrics``). ``await limiter.flush()`` waits until everything queued has
been applied (tests, shutdown). A request cancelled while its admission is in flight (client
gone, timeout) holds nothing: an allowed admission nobody received has its cost reservation
released when the answer arrives.

Settings (all optional): ``GATEHOUSE_LIMITS_REDIS_URL`` (defaults to ``REDIS_URL``),
``GATEHOUSE_LIMITS_REDIS_TIMEOUT`` (seconds, default 1.0; after a failure the store is not
retried for a second), ``GATEHOUSE_LIMITS_KEY_PREFIX`` (default ``gatehouse:limits:``).

Cost: Redis is reached through redis-py's asyncio client (hiredis parses the replies), with
the two Lua scripts of ``backends`` registered once (``EVALSHA``, loaded again when Redis has
forgotten them). The admissions of every request that reaches the limiter during one pass of
the event loop go in one script call, each checked and counted on its own, in arrival order;
the settles and releases of the pass likewise in one call, pipelined with it. One such round
trip is out at a time: what later passes issue meanwhile goes in the next
(``backends.LoopPassBatch``). A route without limits costs no call at all, one with
request-count limits only no adjustment.

For the admin and the API: ``await limiter.current_usage(counter, key_id=None, resource="")``
returns ``{used, reserved, limit, remaining, unit, window_start, reset_at}`` for one compiled
counter; ``guardrails.selectors.attachment_limit_usage`` wraps it for an attachment.
"""

from guardrails.limits.backends import BackendUnavailable, MemoryBackend, RedisBackend
from guardrails.limits.limiter import Decision, LimitContext, Limiter, Reservation
from guardrails.limits.pricing import PriceTable
from guardrails.limits.rules import NO_LIMITS, Counter, LimitSet, compile_limits

__all__ = [
    "NO_LIMITS",
    "BackendUnavailable",
    "Counter",
    "Decision",
    "LimitContext",
    "LimitSet",
    "Limiter",
    "MemoryBackend",
    "PriceTable",
    "RedisBackend",
    "Reservation",
    "compile_limits",
]
