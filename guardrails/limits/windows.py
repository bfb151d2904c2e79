"""Fixed time windows, aligned to UTC calendar boundaries.

A window of ``duration`` times ``unit`` (second, minute, hour, day, week, month) is a fixed window:
its counters start at zero at each boundary. Boundaries are aligned so every gateway process
computes the same window without talking to the others: seconds to days are multiples of the
window length since the Unix epoch (``1 day`` resets at 00:00 UTC, ``6 hour`` at 00, 06, 12 and
18 UTC), weeks start on Monday 00:00 UTC, and months are calendar months (``1 month`` resets
on the 1st at 00:00 UTC; ``3 month`` on 1 January, April, July and October).

Processes use their own clock, so hosts must keep time with NTP; a skew of a few
milliseconds only blurs which side of a boundary a request lands on.
"""

import math
from datetime import UTC, datetime

UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
}
UNITS = (*UNIT_SECONDS, "month")
UNIT_SUFFIX = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w", "month": "mo"}
# 1970-01-01 was a Thursday; weeks start on Monday, four days later.
_WEEK_OFFSET = 4 * 86400


class Window:
    """One window length. ``bounds(now)`` returns the current ``(start, end)`` in epoch
    seconds; the last answer is cached, so the common case is two comparisons."""

    __slots__ = ("_current", "_length", "_offset", "duration", "label", "unit")

    def __init__(self, duration: int, unit: str):
        if unit not in UNITS:
            raise ValueError(f"Unknown window unit '{unit}'.")
        if duration < 1:
            raise ValueError("A window lasts at least one unit.")
        self.duration = duration
        self.unit = unit
        self.label = f"{duration}{UNIT_SUFFIX[unit]}"
        self._length = duration * UNIT_SECONDS.get(unit, 0)
        self._offset = _WEEK_OFFSET if unit == "week" else 0
        self._current = (0.0, 0.0)  # one tuple, so a reader never sees half an update

    def __repr__(self) -> str:
        return f"Window({self.duration}, {self.unit!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Window) and (self.duration, self.unit) == (
            other.duration,
            other.unit,
        )

    def __hash__(self) -> int:
        return hash((self.duration, self.unit))

    def bounds(self, now: float) -> tuple[float, float]:
        current = self._current
        if current[0] <= now < current[1]:
            return current
        if self._length:
            start = math.floor((now - self._offset) / self._length) * self._length + self._offset
            end = start + self._length
        else:
            start, end = _month_bounds(now, self.duration)
        self._current = (float(start), float(end))
        return self._current

    def seconds(self, now: float) -> int:
        """The length of the current window (months differ), for ``RateLimit-Policy``."""
        start, end = self.bounds(now)
        return int(end - start)


def _month_bounds(now: float, months: int) -> tuple[float, float]:
    moment = datetime.fromtimestamp(now, UTC)
    index = moment.year * 12 + moment.month - 1
    first = index - index % months
    return _month_start(first), _month_start(first + months)


def _month_start(index: int) -> float:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp()
