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

    limiter.prices = load_price_table()  # the admin-editable table (ORM read)
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

After the upstream answered (``decision.reservation`` may be None; both calls accept it)::

    await limiter.settle(decision.reservation, usage, model=response_model_or_None)
        # usage: {"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"?},
        # or None when the response reported no usage or the client left mid-stream (a cost
        # reservation is then charged in full); run it after the last byte is sent, it need
        # not delay the client
    await limiter.release(decision.reservation)
        # instead of settle when nothing was billed: connect error, upstream error status,
        # client gone before the upstream answered

Settings (all optional): ``GATEHOUSE_LIMITS_REDIS_URL`` (defaults to ``REDIS_URL``),
``GATEHOUSE_LIMITS_REDIS_TIMEOUT`` (seconds, default 1.0; after a failure the store is not
retried for a second), ``GATEHOUSE_LIMITS_KEY_PREFIX`` (default ``gatehouse:limits:``).

Cost: ``admit`` is one Redis round trip (a single Lua script for all counters of the
request; none at all for a route without limits), ``settle`` / ``release`` at most one, and
none when there is nothing to adjust (request-count limits only).
Both go through ``resp.LeanRedis``: one pipelined connection per process, the scripts called
by digest, no pool, health check or per-call timeout task (a single watchdog timer drops the
connection when a reply is overdue).

For the admin and the API: ``await limiter.current_usage(counter, key_id=None, resource="")``
returns ``{used, reserved, limit, remaining, unit, window_start, reset_at}`` for one compiled
counter; ``guardrails.selectors.attachment_limit_usage`` wraps it for an attachment.
"""

from guardrails.limits.backends import BackendUnavailable, MemoryBackend, RedisBackend
from guardrails.limits.limiter import Decision, LimitContext, Limiter, Reservation
from guardrails.limits.pricing import PriceTable, load_price_table
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
    "load_price_table",
]
