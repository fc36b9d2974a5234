"""What a statistics report asks for: grouping, period, day range, time zone and thresholds.

A `ReportSpec` is plain, validated data; the API, the `zentrale report` command and the
dashboard build one and hand it to `zentrale.stats.report.compute`. Days are local days of the
spec's time zone, both ends included; the report covers the UTC instants between the start of
the first day and the end of the last one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zentrale.base.errors import ZentraleError

Group = Literal["department", "agent"]
Period = Literal["hour", "day", "week"]
GROUPS: tuple[Group, ...] = ("department", "agent")
PERIODS: tuple[Period, ...] = ("hour", "day", "week")
DEFAULT_SERVICE_LEVEL = 20.0
DEFAULT_SHORT_ABANDON = 5.0
MAX_DAYS = 400
# Days a report may name: far enough from the calendar's ends that a week's start, the day
# after the last and any zone's offset stay representable.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)
_THRESHOLD = re.compile(r"^([A-Za-z0-9_.-]{1,64})[:=]([0-9]{1,5}(?:\.[0-9]+)?)$")


class SpecError(ZentraleError, ValueError):
    """A report request that cannot be answered; the message names the field."""

    code = "spec"


@dataclass(frozen=True, kw_only=True)
class ReportSpec:
    """One statistics request."""

    group: Group
    period: Period
    first_day: dt.date
    last_day: dt.date
    zone: ZoneInfo
    service_level: Mapping[str, float] = field(default_factory=dict)
    """Per-department service-level threshold in seconds; others use `default_service_level`."""
    default_service_level: float = DEFAULT_SERVICE_LEVEL
    short_abandon: float = DEFAULT_SHORT_ABANDON
    """Abandoned calls that waited at most this many seconds also count as short abandons."""
    departments: Sequence[str] | None = None
    """Only these departments (a supervisor's scope); None means every department."""

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise SpecError(f"group: '{self.group}' is not one of {', '.join(GROUPS)}")
        if self.period not in PERIODS:
            raise SpecError(f"period: '{self.period}' is not one of {', '.join(PERIODS)}")
        for name, day in (("from", self.first_day), ("to", self.last_day)):
            if not FIRST_DAY <= day <= LAST_DAY:
                raise SpecError(f"{name}: {day} is outside {FIRST_DAY}..{LAST_DAY}")
        if self.last_day < self.first_day:
            raise SpecError(f"to: {self.last_day} is before from: {self.first_day}")
        if (self.last_day - self.first_day).days >= MAX_DAYS:
            raise SpecError(f"from/to: at most {MAX_DAYS} days in one report")
        if self.short_abandon < 0 or self.default_service_level < 0:
            raise SpecError("short_abandon and service level must not be negative")

    @property
    def start(self) -> dt.datetime:
        """Return the first instant covered (local midnight of the first day), in UTC."""
        return _local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> dt.datetime:
        """Return the first instant after the range (local midnight after the last day), in UTC."""
        return _local_midnight(self.last_day + dt.timedelta(days=1), self.zone)

    def threshold(self, department: str) -> float:
        """Return DEPARTMENT's service-level threshold in seconds."""
        return self.service_level.get(department, self.default_service_level)


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def parse_zone(name: str) -> ZoneInfo:
    """Return the time zone NAME, or raise SpecError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(f"tz: unknown time zone '{name}'") from None


def parse_day(name: str, value: str) -> dt.date:
    """Return the day VALUE (YYYY-MM-DD) of the parameter NAME, or raise SpecError."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SpecError(f"{name}: '{value}' is not a day like 2026-11-30") from None


def parse_thresholds(items: Sequence[str]) -> dict[str, float]:
    """Parse `department:seconds` (or `department=seconds`) items; several may share an item,
    separated by commas."""
    found: dict[str, float] = {}
    for item in (part.strip() for text in items for part in text.split(",")):
        if not item:
            continue
        match = _THRESHOLD.match(item)
        if match is None:
            raise SpecError(f"service_level: '{item}' is not like sales:30")
        found[match.group(1)] = float(match.group(2))
    return found
