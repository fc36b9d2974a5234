"""The few SQL expressions that differ between SQLite and PostgreSQL: durations and periods.

PostgreSQL measures intervals exactly (`date_part('epoch', ...)`) and knows time zones
(`timezone(zone, ts)`, `date_trunc`). SQLite has neither: durations are whole seconds apart
(`strftime('%s')`) plus microseconds apart (read from the stored text), and local time is
the UTC time plus the zone's offset, piecewise between the zone's offset changes inside the
report's range (found here in Python, so daylight-saving changes are honoured).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, Integer, case, cast, func, literal

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


def local_period(dialect: str, column: Any, period: Period, zone: ZoneInfo,
                 start: dt.datetime, end: dt.datetime) -> Expr:  # fmt: skip
    """Return the local start of the PERIOD holding COLUMN (a UTC timestamp) in ZONE.

    PostgreSQL gives a timestamp without zone, SQLite a 'YYYY-MM-DD HH:MM:SS' text; both are
    read back by `zentrale.stats.report.period_start`. Weeks start on Monday.
    """
    if dialect == "postgresql":
        return func.date_trunc(period, func.timezone(zone.key, column))
    local = func.datetime(column, _offset_case(column, zone, start, end))
    if period == "hour":
        return func.strftime("%Y-%m-%d %H:00:00", local)
    if period == "day":
        return func.strftime("%Y-%m-%d 00:00:00", local)
    return func.strftime("%Y-%m-%d 00:00:00", local, "-6 days", "weekday 1")


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
