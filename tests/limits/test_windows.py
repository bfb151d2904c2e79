from datetime import UTC, datetime

import pytest

from guardrails.limits.windows import Window


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def bounds(window: Window, moment: float) -> tuple[datetime, datetime]:
    start, end = window.bounds(moment)
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


def test_a_minute_window_starts_on_the_minute():
    assert bounds(Window(1, "minute"), at(2027, 1, 15, 8, 30, 30)) == (
        datetime(2027, 1, 15, 8, 30, tzinfo=UTC),
        datetime(2027, 1, 15, 8, 31, tzinfo=UTC),
    )


def test_a_six_hour_window_starts_at_a_multiple_of_six_hours_utc():
    assert bounds(Window(6, "hour"), at(2027, 1, 15, 8, 30)) == (
        datetime(2027, 1, 15, 6, tzinfo=UTC),
        datetime(2027, 1, 15, 12, tzinfo=UTC),
    )


def test_a_day_window_resets_at_midnight_utc():
    assert bounds(Window(1, "day"), at(2027, 1, 15, 23, 59, 59)) == (
        datetime(2027, 1, 15, tzinfo=UTC),
        datetime(2027, 1, 16, tzinfo=UTC),
    )


def test_a_week_window_starts_on_monday():
    # 2027-01-15 is a Friday.
    assert bounds(Window(1, "week"), at(2027, 1, 15, 12)) == (
        datetime(2027, 1, 11, tzinfo=UTC),
        datetime(2027, 1, 18, tzinfo=UTC),
    )


def test_a_month_window_is_the_calendar_month():
    assert bounds(Window(1, "month"), at(2028, 2, 29, 12)) == (
        datetime(2028, 2, 1, tzinfo=UTC),
        datetime(2028, 3, 1, tzinfo=UTC),
    )


def test_a_three_month_window_is_a_calendar_quarter():
    assert bounds(Window(3, "month"), at(2027, 12, 31, 23)) == (
        datetime(2027, 10, 1, tzinfo=UTC),
        datetime(2028, 1, 1, tzinfo=UTC),
    )


def test_the_next_window_starts_where_the_last_one_ended():
    window = Window(1, "second")
    _, end = window.bounds(1000.5)
    assert window.bounds(end) == (1001.0, 1002.0)


def test_a_window_length_below_one_unit_is_refused():
    with pytest.raises(ValueError):
        Window(0, "minute")
