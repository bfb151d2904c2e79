"""Rate-limit response headers, sent on allowed and rejected responses alike.

They describe one counter, the most restrictive: on a rejection the counter that rejected
(the one that frees up last when several did), otherwise the counter with the smallest
remaining share of its limit (the sooner reset on a tie).

- ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``; ``X-RateLimit-Reset`` in epoch seconds;
- the IETF fields of draft-ietf-httpapi-ratelimit-headers-06 (separate fields):
  ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds until the window
  resets) and ``RateLimit-Policy: <limit>;w=<window seconds>``;
- ``Retry-After`` (seconds) on rejections only;
- for a cost counter the amounts are nano-dollars (1e-9 USD, integers as the fields require,
  as the reference gateway does), plus ``X-RateLimit-Cost-Limit-Dollars`` and
  ``X-RateLimit-Cost-Remaining-Dollars`` with six decimals.

Names are lower-case bytes, ready for an ASGI ``http.response.start`` message.
"""

import math

from guardrails.limits.pricing import NANO_PER_USD

Headers = list[tuple[bytes, bytes]]


class WindowHeaders:
    """A counter's headers for one window: what stays the same within it is built once, so
    each admitted request only formats its remaining amount and the seconds to the reset."""

    __slots__ = ("cost_limit", "limit", "policy", "reset", "reset_at")

    def __init__(self, limit: int, reset_at: float, window_seconds: int, cost: bool):
        self.reset_at = reset_at
        self.limit = b"%d" % limit
        self.reset = (b"x-ratelimit-reset", b"%d" % math.ceil(reset_at))
        self.policy = (b"ratelimit-policy", b"%d;w=%d" % (limit, window_seconds))
        self.cost_limit = (
            (b"x-ratelimit-cost-limit-dollars", b"%.6f" % (limit / NANO_PER_USD)) if cost else None
        )

    def headers(self, remaining: int, now: float) -> Headers:
        limit, remaining_value = self.limit, b"%d" % remaining
        headers = [
            (b"x-ratelimit-limit", limit),
            (b"x-ratelimit-remaining", remaining_value),
            self.reset,
            (b"ratelimit-limit", limit),
            (b"ratelimit-remaining", remaining_value),
            (b"ratelimit-reset", b"%d" % max(0, math.ceil(self.reset_at - now))),
            self.policy,
        ]
        if self.cost_limit is not None:
            headers.append(self.cost_limit)
            headers.append(
                (b"x-ratelimit-cost-remaining-dollars", b"%.6f" % (remaining / NANO_PER_USD))
            )
        return headers


# Every name ``WindowHeaders`` may send (a cost budget's adds two): the gateway drops upstream
# headers of these names from a limited route's responses, so the client never sees two of one.
NAMES = frozenset(name for name, _ in WindowHeaders(1, 0.0, 1, True).headers(0, 0.0))


def retry_after_header(seconds: int) -> tuple[bytes, bytes]:
    return (b"retry-after", str(seconds).encode())
