"""Opening hours: is a schedule open at a given instant, and why.

Pure functions of a `Schedule`, its time zone and an aware datetime; the caller supplies the
time. Public holidays come from the `holidays` package, computed once per country and year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from zentrale.routing.durations import format_minutes
from zentrale.routing.schema import WEEKDAYS, HolidaySource, Schedule


@dataclass(frozen=True, slots=True)
class Opening:
    """Whether a schedule is open, with the reason a supervisor can read."""

    is_open: bool
    reason: str


def opening(schedule: Schedule, zone: ZoneInfo, at: dt.datetime) -> Opening:
    """Return whether `schedule` is open at the aware instant `at`."""
    local = at.astimezone(zone)
    day = local.date()
    for first, last in schedule.closed:
        if first <= day <= last:
            return Opening(False, f"closed: {day} is a closed day")
    if day in schedule.half_days:
        return _within(schedule.half_days[day], local, f"half day {day}")
    holiday = holiday_name(schedule.holidays, day)
    if holiday is not None:
        return Opening(False, f"closed: public holiday {holiday} on {day}")
    weekday = WEEKDAYS[local.weekday()]
    return _within(schedule.weekly.get(weekday, ()), local, weekday)  # type: ignore[call-overload]


def _within(ranges: tuple[tuple[int, int], ...], local: dt.datetime, label: str) -> Opening:
    minute = local.hour * 60 + local.minute
    shown = ", ".join(f"{format_minutes(a)}-{format_minutes(b)}" for a, b in ranges) or "none"
    is_open = any(start <= minute < end for start, end in ranges)
    state = "open" if is_open else "closed"
    return Opening(is_open, f"{state} at {local:%H:%M} ({label} hours: {shown})")


def in_hours(ranges: tuple[tuple[int, int], ...], zone: ZoneInfo, at: dt.datetime) -> bool:
    """Return whether the local time of `at` falls into one of `ranges`."""
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in ranges)


def holiday_name(sources: tuple[HolidaySource, ...], day: dt.date) -> str | None:
    """Return the name of the public holiday on `day` from any of `sources`, if one is."""
    for source in sources:
        name = _holidays(source.country, source.subdiv, day.year).get(day)
        if name is not None:
            return f"{name} ({source.country}{'-' + source.subdiv if source.subdiv else ''})"
    return None


@lru_cache(maxsize=256)
def _holidays(country: str, subdiv: str | None, year: int) -> Mapping[dt.date, str]:
    return dict(holidays.country_holidays(country, subdiv=subdiv, years=year))
