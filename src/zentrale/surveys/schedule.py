"""When a campaign may call, whom it calls next, and when a missed number is tried again.

Pure: the runner passes the time, the campaign's settings and what the database holds, and
gets decisions back. Calling hours are local to the routing rules' time zone; a number not
reached (busy, no answer, congestion, unreachable) waits `retry_after` and is tried at most
`retries` more times. A cause saying the number itself cannot be reached (unallocated, invalid
format, changed) ends it at once, and so does an error of zentrale's own (a bug is not cured by
calling again; the number is marked `failed` with the reason).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from zentrale.routing.durations import format_minutes, parse_time_range
from zentrale.surveys.models import AttemptResult, TargetState

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DUE_STATES = frozenset({TargetState.PENDING, TargetState.RETRY})

NOT_RETRIED_CAUSES = frozenset({1, 3, 22, 28})
"""Q.850 causes saying the number itself is wrong, so calling again cannot help: 1 unallocated
number (SIP 404), 3 no route to destination, 22 number changed (SIP 410), 28 invalid number
format (SIP 484). Busy (17, SIP 486/600), no answer (18, 19: SIP 408, 480, our ring time),
congestion (34, SIP 503) and every other cause are retried."""


def parse_days(text: str) -> frozenset[int]:
    """Return weekday numbers (Monday 0) for `mon-fri`, `mon,wed,fri` or `sat-sun`."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise ValueError(f"'{text}' is not a list of days; write mon-fri or mon,wed,fri")
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise ValueError(f"'{part}' runs backwards; write it as two ranges like fri,mon")
        days.update(range(start, end + 1))
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """Return DAYS as stored: `mon,tue,wed`."""
    return ",".join(DAYS[day] for day in sorted(days))


@dataclass(frozen=True, slots=True)
class Window:
    """Calling hours: from `start` to `end` minutes after midnight on `days`."""

    start: int
    end: int
    days: frozenset[int]

    @classmethod
    def parse(cls, start: str, end: str, days: str) -> Window:
        """Build from `09:00`, `18:00`, `mon-fri` (ValueError says which is wrong)."""
        first, last = parse_time_range(f"{start}-{end}")
        return cls(first, last, parse_days(days))

    def is_open(self, at: dt.datetime, zone: ZoneInfo) -> bool:
        """Tell whether AT (aware) falls in the calling hours of ZONE."""
        local = at.astimezone(zone)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{format_minutes(self.start)}-{format_minutes(self.end)} {format_days(self.days)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetView:
    """What the scheduler needs to know of a number."""

    id: str
    line: int
    state: TargetState
    next_attempt_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Pace:
    """A campaign's limits: calling hours, calls at once, retries and the wait between."""

    window: Window
    zone: ZoneInfo
    concurrency: int
    retries: int
    retry_after: dt.timedelta


def due(now: dt.datetime, pace: Pace, calling: int, targets: Sequence[TargetView]) -> list[str]:
    """Return the ids of the numbers to call now, in list order, within the free lines."""
    if not pace.window.is_open(now, pace.zone):
        return []
    free = max(pace.concurrency - calling, 0)
    ready = [t for t in targets if t.state in DUE_STATES and _ready(t, now)]
    ready.sort(key=lambda t: (t.next_attempt_at is not None, t.next_attempt_at or now, t.line))
    return [target.id for target in ready[:free]]


def _ready(target: TargetView, now: dt.datetime) -> bool:
    return target.next_attempt_at is None or target.next_attempt_at <= now


def after_attempt(
    result: AttemptResult,
    attempts: int,
    pace: Pace,
    now: dt.datetime,
    cause: int | None = None,
) -> tuple[TargetState, dt.datetime | None]:
    """Return a number's state and next attempt time after its ATTEMPTS-th call ended so
    (with the Q.850 CAUSE of its end, when known)."""
    if result is AttemptResult.ANSWERED:
        return TargetState.DONE, None
    if result is AttemptResult.ERROR:
        return TargetState.FAILED, None
    if attempts > pace.retries or cause in NOT_RETRIED_CAUSES:
        return TargetState.EXHAUSTED, None
    return TargetState.RETRY, now + pace.retry_after
