"""Agent figures per agent and period, computed from the agent state log, calls and holds.

Pure: `compute` takes the intervals `zentrale.stats.agent_store` read and the report's periods
(`period_bounds`), and splits every interval at the periods' boundaries, so a pause from 23:50
to 00:10 counts ten minutes on each day. An interval still open ends at NOW (or the range's
end, whichever is first); a hold without its unhold ends when the call ends. Definitions:

- signed in: time in any logged state (the phone registered); paused: time paused, by reason;
- after-call work: time in wrap-up; talk: from the agent's answer to the call's end, minus
  hold; hold: from each `hold` event to the `unhold` of the same party (overlaps counted once);
  on a transferred call each agent's own conversation (`agent_talks`): from their
  `agent_answered` to their `conversation_ended` (the transfer's completion, their hangup),
  its talk and hold theirs;
- occupancy = (talk + hold + after-call work) / (signed in - paused), None when that is 0;
- calls handled: calls the agent answered whose answer falls in the period.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PAUSED = "paused"
ACW = "after_call_work"
NO_REASON = "unspecified"
Bounds = Sequence[tuple[dt.datetime, dt.datetime]]
"""(first UTC instant, naive local start) of each period, as `period_bounds` returns them."""


@dataclass(frozen=True)
class StateSpan:
    """One agent_states row."""

    endpoint: str
    name: str | None
    state: str
    reason: str | None
    start: dt.datetime
    end: dt.datetime | None


@dataclass(frozen=True)
class TalkSpan:
    """One call the agent answered: from the answer to the call's end (None: still going)."""

    endpoint: str
    call_id: str
    answered: dt.datetime
    end: dt.datetime | None


@dataclass(frozen=True)
class ConversationEvent:
    """An `agent_answered` or `conversation_ended` on a transferred call's timeline."""

    call_id: str
    at: dt.datetime
    kind: str
    agent: str | None


ANSWERED, CONVERSATION_ENDED = "agent_answered", "conversation_ended"


def agent_talks(talks: Iterable[TalkSpan], events: Iterable[ConversationEvent]) -> list[TalkSpan]:
    """Return each agent's own conversations of TALKS (one span per call, its last agent's, as
    the calls' rows give it): a call with EVENTS splits into one span per `agent_answered`, up
    to the same agent's next `conversation_ended` (none: the call's end, or still going); a call
    without any answer among them stays as it is."""
    by_call: dict[str, list[ConversationEvent]] = defaultdict(list)
    for event in events:
        by_call[event.call_id].append(event)
    found: list[TalkSpan] = []
    for talk in talks:
        marks = sorted(by_call.get(talk.call_id, ()), key=lambda event: event.at)
        spans = [
            TalkSpan(mark.agent, talk.call_id, mark.at, _ended(marks[n + 1 :], mark.agent, talk))
            for n, mark in enumerate(marks)
            if mark.kind == ANSWERED and mark.agent
        ]
        found.extend(spans or [talk])
    return found


def _ended(later: Sequence[ConversationEvent], agent: str, talk: TalkSpan) -> dt.datetime | None:
    return next(
        (e.at for e in later if e.kind == CONVERSATION_ENDED and e.agent == agent), talk.end
    )


@dataclass(frozen=True)
class HoldEvent:
    """A `hold` or `unhold` on a call's timeline, by PARTY (who was held)."""

    call_id: str
    at: dt.datetime
    kind: str
    party: str | None = None


@dataclass
class AgentFigures:
    """One agent's figures in one period (seconds)."""

    endpoint: str
    period_start: dt.datetime
    name: str | None = None
    signed_in: float = 0.0
    paused: dict[str, float] = field(default_factory=dict)
    after_call_work: float = 0.0
    talk: float = 0.0
    hold: float = 0.0
    calls: int = 0
    first_sign_in: dt.datetime | None = None
    last_sign_out: dt.datetime | None = None

    @property
    def paused_total(self) -> float:
        """Return the seconds paused, all reasons."""
        return sum(self.paused.values())

    @property
    def occupancy(self) -> float | None:
        """Return (talk + hold + after-call work) / (signed in - paused); None when 0."""
        available = self.signed_in - self.paused_total
        if available <= 0:
            return None
        return round((self.talk + self.hold + self.after_call_work) / available, 4)


@dataclass(frozen=True)
class Periods:
    """The report's periods: their bounds (UTC), the range's end and the zone's local starts."""

    bounds: Bounds
    end: dt.datetime
    zone: dt.tzinfo

    @functools.cached_property
    def firsts(self) -> list[dt.datetime]:
        """Return each period's first UTC instant."""
        return [first for first, _ in self.bounds]

    def spread(self, start: dt.datetime, end: dt.datetime) -> list[tuple[int, float]]:
        """Return (period index, seconds) of [START, END) clipped to the range."""
        firsts = self.firsts
        start, end = max(start, firsts[0]), min(end, self.end)
        found: list[tuple[int, float]] = []
        index = max(bisect.bisect_right(firsts, start) - 1, 0)
        while start < end and index < len(firsts):
            until = firsts[index + 1] if index + 1 < len(firsts) else self.end
            piece = min(end, until) - start
            if piece.total_seconds() > 0:
                found.append((index, piece.total_seconds()))
            start, index = until, index + 1
        return found

    def index(self, at: dt.datetime) -> int | None:
        """Return the period holding AT (None outside the range)."""
        firsts = self.firsts
        if not firsts or at < firsts[0] or at >= self.end:
            return None
        return bisect.bisect_right(firsts, at) - 1

    def local(self, index: int) -> dt.datetime:
        """Return the aware local start of period INDEX."""
        return self.bounds[index][1].replace(tzinfo=self.zone)


class _Table:
    def __init__(self, periods: Periods) -> None:
        self.periods = periods
        self.rows: dict[tuple[str, int], AgentFigures] = {}
        self.handled: set[tuple[str, str]] = set()
        """(agent, call) already counted: a call that comes back to its agent counts once."""

    def row(self, endpoint: str, index: int) -> AgentFigures:
        found = self.rows.get((endpoint, index))
        if found is None:
            found = self.rows[endpoint, index] = AgentFigures(endpoint, self.periods.local(index))
        return found


def compute(
    periods: Periods,
    states: Iterable[StateSpan],
    talks: Iterable[TalkSpan],
    holds: Iterable[HoldEvent],
    now: dt.datetime,
) -> list[AgentFigures]:
    """Return the figures of every agent with something in the range, by agent then period."""
    table = _Table(periods)
    names: dict[str, str] = {}
    spans = sorted(states, key=lambda span: (span.endpoint, span.start))
    for span in spans:
        if span.name:
            names[span.endpoint] = span.name
        _add_state(table, span, span.end or now)
    for endpoint, start, end in sessions(spans, now):
        _add_session(table, endpoint, start, end)
    by_call: dict[str, list[HoldEvent]] = defaultdict(list)
    for event in holds:
        by_call[event.call_id].append(event)
    for talk in talks:
        _add_talk(table, talk, by_call.get(talk.call_id, []), now)
    for row in table.rows.values():
        row.name = names.get(row.endpoint)
    return [table.rows[key] for key in sorted(table.rows)]


def _add_state(table: _Table, span: StateSpan, end: dt.datetime) -> None:
    for index, seconds in table.periods.spread(span.start, end):
        row = table.row(span.endpoint, index)
        row.signed_in += seconds
        if span.state == PAUSED:
            reason = span.reason or NO_REASON
            row.paused[reason] = row.paused.get(reason, 0.0) + seconds
        elif span.state == ACW:
            row.after_call_work += seconds


def sessions(
    spans: Sequence[StateSpan], now: dt.datetime
) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    """Return the signed-in stretches (endpoint, sign-in, sign-out or None while signed in) of
    SPANS sorted by endpoint and start: touching intervals are one stretch."""
    found: list[tuple[str, dt.datetime, dt.datetime | None]] = []
    for span in spans:
        if found and found[-1][0] == span.endpoint:
            endpoint, start, end = found[-1]
            if end is None or span.start <= end:
                later = None if end is None or span.end is None else max(end, span.end)
                found[-1] = (endpoint, start, later)
                continue
        found.append((span.endpoint, span.start, span.end))
    return found


def _add_session(table: _Table, endpoint: str, start: dt.datetime, end: dt.datetime | None) -> None:
    first = table.periods.index(start)
    if first is not None:
        row = table.row(endpoint, first)
        row.first_sign_in = min(row.first_sign_in or start, start)
    last = table.periods.index(end) if end is not None else None
    if end is not None and last is not None:
        row = table.row(endpoint, last)
        row.last_sign_out = max(row.last_sign_out or end, end)


def _add_talk(table: _Table, talk: TalkSpan, events: list[HoldEvent], now: dt.datetime) -> None:
    end = talk.end or now
    answered = table.periods.index(talk.answered)
    if answered is not None and (talk.endpoint, talk.call_id) not in table.handled:
        table.handled.add((talk.endpoint, talk.call_id))
        table.row(talk.endpoint, answered).calls += 1
    held = holds_of(events, talk.answered, end)
    for index, seconds in table.periods.spread(talk.answered, end):
        table.row(talk.endpoint, index).talk += seconds
    for start, stop in held:
        for index, seconds in table.periods.spread(start, stop):
            row = table.row(talk.endpoint, index)
            row.talk -= seconds
            row.hold += seconds


def holds_of(
    events: Iterable[HoldEvent], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Return the held stretches of one call within [START, END), overlaps merged: each hold
    pairs with the next unhold of its party; one without ends at END."""
    opened: dict[str | None, dt.datetime] = {}
    pairs: list[tuple[dt.datetime, dt.datetime]] = []
    for event in sorted(events, key=lambda item: item.at):
        if event.kind == "hold":
            opened.setdefault(event.party, event.at)
        elif event.kind == "unhold" and event.party in opened:
            pairs.append((opened.pop(event.party), event.at))
    pairs.extend((at, end) for at in opened.values())
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for low, high in sorted((max(a, start), min(b, end)) for a, b in pairs):
        if high <= low:
            continue
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


CSV_COLUMNS = (
    "agent",
    "name",
    "period_start",
    "signed_in",
    "paused",
    "after_call_work",
    "talk",
    "hold",
    "calls",
    "occupancy",
    "first_sign_in",
    "last_sign_out",
    "paused_by_reason",
)


def figures_dict(row: AgentFigures) -> dict[str, object]:
    """Return ROW as JSON-ready data (seconds rounded to 0.1 s, times in ISO 8601)."""

    def when(at: dt.datetime | None) -> str | None:
        return None if at is None else at.isoformat()

    return {
        "agent": row.endpoint,
        "name": row.name,
        "period_start": row.period_start.isoformat(),
        "signed_in": round(row.signed_in, 1),
        "paused": round(row.paused_total, 1),
        "paused_by_reason": {key: round(value, 1) for key, value in sorted(row.paused.items())},
        "after_call_work": round(row.after_call_work, 1),
        "talk": round(row.talk, 1),
        "hold": round(row.hold, 1),
        "calls": row.calls,
        "occupancy": row.occupancy,
        "first_sign_in": when(row.first_sign_in),
        "last_sign_out": when(row.last_sign_out),
    }


def figures_csv(rows: Iterable[AgentFigures]) -> str:
    """Return ROWS as CSV (pauses by reason as `reason=seconds` joined by `;`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = figures_dict(row)
        reasons = data.pop("paused_by_reason")
        assert isinstance(reasons, dict)
        cells = [data[name] for name in CSV_COLUMNS[:-1]]
        shown = ";".join(f"{key}={value}" for key, value in reasons.items())
        writer.writerow(["" if cell is None else cell for cell in cells] + [shown])
    return out.getvalue()
