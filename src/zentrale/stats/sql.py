"""The few SQL expressions that differ between SQLite and PostgreSQL: durations and periods.

PostgreSQL measures intervals exactly (`date_part('epoch', ...)`); its periods are found by
`width_bucket` in the UTC instants where each local period starts (`period_bounds`, computed
here: a binary search per call instead of a time-zone conversion and truncation per call,
several times cheaper). SQLite has neither: durations are whole seconds apart
(`strftime('%s')`) plus microseconds apart (read from the stored text), and local time is
the UTC time plus the zone's offset, piecewise between the zone's offset changes inside the
report's range (found here in Python, so daylight-saving changes are honoured).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, ColumnElement, DateTime, Float, Integer, case, cast, func, literal

from zentrale.stats.spec import Period

Expr = ColumnElement[Any]
_STEP = dt.timedelta(minutes=15)


def seconds(dialect: str, start: Any, end: Any) -> Expr:
    """Return END - START in seconds (a float; NULL when either is NULL)."""
    if dialect == "postgresql":
        # date_part is double precision; extract() is numeric since PostgreSQL 14, and slower.
        return cast(func.date_part("epoch", end - start), Float)
    # Whole seconds and microseconds apart, both exact integers: SQLAlchemy stores SQLite
    # datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (julianday would be off by up to ~50 µs).
    whole = cast(func.strftime("%s", end), Integer) - cast(func.strftime("%s", start), Integer)
    micro = cast(func.substr(end, 21, 6), Integer) - cast(func.substr(start, 21, 6), Integer)
    return whole + micro / 1_000_000.0


def local_period(
    dialect: str, column: Any, period: Period, zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> Expr:
    """Return the local start of the PERIOD holding COLUMN (a UTC timestamp in [START, END)).

    PostgreSQL gives the 1-based number of the period in `period_bounds(...)`, SQLite a
    'YYYY-MM-DD HH:MM:SS' text; both are read back by `zentrale.stats.report.period_start`.
    Weeks start on Monday.
    """
    if dialect == "postgresql":
        bounds = [first for first, _ in period_bounds(period, zone, start, end)]
        return func.width_bucket(column, literal(bounds, ARRAY(DateTime(timezone=True))))
    local = func.datetime(column, _offset_case(column, zone, start, end))
    if period == "hour":
        return func.strftime("%Y-%m-%d %H:00:00", local)
    if period == "day":
        return func.strftime("%Y-%m-%d 00:00:00", local)
    return func.strftime("%Y-%m-%d 00:00:00", local, "-6 days", "weekday 1")


_LENGTH = {
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(weeks=1),
}


@functools.lru_cache(maxsize=64)
def period_bounds(
    period: Period, zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """Return (first UTC instant, naive local start) of each local PERIOD over [START, END).

    As PostgreSQL's `date_trunc(period, timezone(zone, ts))`: when clocks go back, the repeated
    local hour is one period (it starts where the first one did).
    """
    found: list[tuple[dt.datetime, dt.datetime]] = []
    since = start
    for until, offset in offsets(zone, start, end):
        label = _truncate(period, (since + offset).replace(tzinfo=None))
        while True:
            first = max(since, (label - offset).replace(tzinfo=dt.UTC))
            if first >= until:
                break
            if not found or found[-1][1] != label:
                found.append((first, label))
            label += _LENGTH[period]
        since = until
    return tuple(found)


def _truncate(period: Period, local: dt.datetime) -> dt.datetime:
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - dt.timedelta(days=day.weekday()) if period == "week" else day


def _offset_case(column: Any, zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> Expr:
    pieces = offsets(zone, start, end)
    if len(pieces) == 1:
        return literal(_modifier(pieces[0][1]))
    whens = [(column < until, literal(_modifier(offset))) for until, offset in pieces[:-1]]
    return case(*whens, else_=literal(_modifier(pieces[-1][1])))


def _modifier(offset: dt.timedelta) -> str:
    return f"{int(offset.total_seconds()):+d} seconds"


def offsets(
    zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.timedelta]]:
    """Return ZONE's UTC offsets over [START, END) as (valid until, offset) pieces."""
    pieces: list[tuple[dt.datetime, dt.timedelta]] = []
    at, current = start, _offset(zone, start)
    while at < end:
        step = min(at + _STEP, end)
        if _offset(zone, step) != current and step < end:
            change = _first_change(zone, at, step, current)
            pieces.append((change, current))
            current = _offset(zone, change)
        at = step
    pieces.append((end, current))
    return pieces


def _first_change(
    zone: ZoneInfo, low: dt.datetime, high: dt.datetime, current: dt.timedelta
) -> dt.datetime:
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset(zone, middle) == current:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _offset(zone: ZoneInfo, at: dt.datetime) -> dt.timedelta:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None
    return offset
