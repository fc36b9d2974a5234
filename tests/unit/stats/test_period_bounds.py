"""`period_bounds`: where each local period starts in UTC (PostgreSQL's width_bucket bounds)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from zentrale.stats.sql import period_bounds

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def test_hours_when_clocks_go_back_merge_the_repeated_hour() -> None:
    start = dt.datetime(2025, 10, 25, 23, tzinfo=UTC)  # 01:00 local, summer time
    end = dt.datetime(2025, 10, 26, 3, tzinfo=UTC)  # 04:00 local, winter time
    assert period_bounds("hour", BERLIN, start, end) == (
        (dt.datetime(2025, 10, 25, 23, tzinfo=UTC), dt.datetime(2025, 10, 26, 1)),
        (dt.datetime(2025, 10, 26, 0, tzinfo=UTC), dt.datetime(2025, 10, 26, 2)),
        # 01:00 UTC is 02:00 local again: the same period
        (dt.datetime(2025, 10, 26, 2, tzinfo=UTC), dt.datetime(2025, 10, 26, 3)),
    )


def test_days_and_weeks_start_at_local_midnight_and_monday() -> None:
    start = dt.datetime(2025, 3, 28, 23, tzinfo=UTC)  # Saturday 29 March, 00:00 local
    end = dt.datetime(2025, 3, 31, 22, tzinfo=UTC)  # Tuesday 1 April, 00:00 local (summer)
    days = period_bounds("day", BERLIN, start, end)
    assert days == (
        (dt.datetime(2025, 3, 28, 23, tzinfo=UTC), dt.datetime(2025, 3, 29)),
        (dt.datetime(2025, 3, 29, 23, tzinfo=UTC), dt.datetime(2025, 3, 30)),
        (dt.datetime(2025, 3, 30, 22, tzinfo=UTC), dt.datetime(2025, 3, 31)),  # 23 h day before
    )
    assert period_bounds("week", BERLIN, start, end) == (
        (start, dt.datetime(2025, 3, 24)),
        (dt.datetime(2025, 3, 30, 22, tzinfo=UTC), dt.datetime(2025, 3, 31)),
    )
