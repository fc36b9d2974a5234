"""The agent figures computed from state intervals, calls and holds (pure, no database)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from zentrale.stats.agent_figures import (
    ConversationEvent,
    HoldEvent,
    Periods,
    StateSpan,
    TalkSpan,
    agent_talks,
    compute,
    figures_csv,
    holds_of,
)
from zentrale.stats.sql import period_bounds

ZONE = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC)  # local midnight of 30 Nov
END = START + dt.timedelta(days=2)
A = "PJSIP/1001"


def _at(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def _periods() -> Periods:
    return Periods(period_bounds("day", ZONE, START, END), END, ZONE)


def _span(state: str, start: float, end: float | None, reason: str | None = None) -> StateSpan:
    return StateSpan(A, "Ayla", state, reason, _at(start), None if end is None else _at(end))


def test_an_interval_across_midnight_counts_on_both_days() -> None:
    states = [_span("available", 20, 23.5), _span("paused", 23.5, 24.25, "break")]
    first, second = compute(_periods(), states, [], [], now=END)
    assert first.period_start == dt.datetime(2026, 11, 30, tzinfo=ZONE)
    assert (first.signed_in, first.paused) == (4 * 3600, {"break": 1800})
    assert (second.signed_in, second.paused) == (900, {"break": 900})
    assert (first.first_sign_in, first.last_sign_out) == (_at(20), None)
    assert (second.first_sign_in, second.last_sign_out) == (None, _at(24.25))
    assert first.name == "Ayla"


def test_an_open_interval_ends_now_and_a_call_counts_talk_hold_and_occupancy() -> None:
    states = [
        _span("on_call", 8, 8.5),
        _span("after_call_work", 8.5, 8.75),
        _span("paused", 8.75, 9.0, None),
        _span("available", 9.0, None),
    ]
    talks = [TalkSpan(A, "c1", _at(8), _at(8.5))]
    holds = [
        HoldEvent("c1", _at(8.1), "hold", "caller"),
        HoldEvent("c1", _at(8.2), "unhold", "caller"),
    ]
    (row,) = compute(_periods(), states, talks, holds, now=_at(10))
    assert row.signed_in == 2 * 3600
    assert (row.after_call_work, row.paused, row.calls) == (900, {"unspecified": 900}, 1)
    assert (round(row.talk), round(row.hold)) == (1440, 360)
    assert row.occupancy == round((1440 + 360 + 900) / (7200 - 900), 4)
    assert "unspecified=900.0" in figures_csv([row])


def test_a_hold_without_unhold_ends_with_the_call_and_overlaps_count_once() -> None:
    events = [
        HoldEvent("c1", _at(1), "hold", "caller"),
        HoldEvent("c1", _at(1.5), "hold", "agent"),
        HoldEvent("c1", _at(2), "unhold", "agent"),
        HoldEvent("c1", _at(2.5), "unhold", "nobody"),
    ]
    assert holds_of(events, _at(0), _at(3)) == [(_at(1), _at(3))]
    assert holds_of([], _at(0), _at(3)) == []


def test_an_agent_with_no_calls_has_no_occupancy_when_only_paused() -> None:
    (row,) = compute(_periods(), [_span("paused", 1, 2, "training")], [], [], now=END)
    assert (row.calls, row.talk, row.hold) == (0, 0.0, 0.0)
    assert row.occupancy is None
    (idle,) = compute(_periods(), [_span("available", 1, 2)], [], [], now=END)
    assert idle.occupancy == 0.0


B = "PJSIP/1002"


def _mark(hours: float, kind: str, agent: str, call_id: str = "c1") -> ConversationEvent:
    return ConversationEvent(call_id, _at(hours), kind, agent)


def test_each_agent_of_a_transferred_call_gets_their_own_talk_and_hold() -> None:
    """A answers at 8:00, holds the caller 8:10-8:12, hands over at 8:20 (blind: B answers at
    8:21); B holds 8:30-8:36 and the call ends at 8:45. Before: all of it B's, from 8:21."""
    call = TalkSpan(B, "c1", _at(8 + 21 / 60), _at(8.75))  # the call's row: its last agent
    marks = [
        _mark(8, "agent_answered", A),
        _mark(8 + 20 / 60, "conversation_ended", A),
        _mark(8 + 21 / 60, "agent_answered", B),
        _mark(8.75, "conversation_ended", B),
    ]
    holds = [
        HoldEvent("c1", _at(8 + 10 / 60), "hold", "caller"),
        HoldEvent("c1", _at(8 + 12 / 60), "unhold", "caller"),
        HoldEvent("c1", _at(8.5), "hold", "caller"),
        HoldEvent("c1", _at(8.6), "unhold", "caller"),
    ]
    talks = agent_talks([call], marks)
    assert [(t.endpoint, t.answered, t.end) for t in talks] == [
        (A, _at(8), _at(8 + 20 / 60)),
        (B, _at(8 + 21 / 60), _at(8.75)),
    ]
    first, second = compute(_periods(), [], talks, holds, now=END)
    assert (first.endpoint, round(first.talk), round(first.hold), first.calls) == (A, 1080, 120, 1)
    assert (second.endpoint, round(second.talk), round(second.hold), second.calls) == (
        B,
        1080,
        360,
        1,
    )


def test_an_attended_transfer_ends_the_first_agents_talk_at_the_completion() -> None:
    """A consults B and completes at 8:08 (A's conversation ends, B's starts: the timeline as
    the daemon writes it); the call goes on with B, still going: B's talk ends now."""
    call = TalkSpan(B, "c1", _at(8 + 8 / 60), None)
    marks = [
        _mark(8, "agent_answered", A),
        _mark(8 + 8 / 60, "conversation_ended", A),
        _mark(8 + 8 / 60, "agent_answered", B),
    ]
    talks = agent_talks([call], marks)
    assert [(t.endpoint, t.answered, t.end) for t in talks] == [
        (A, _at(8), _at(8 + 8 / 60)),
        (B, _at(8 + 8 / 60), None),
    ]
    first, second = compute(_periods(), [], talks, [], now=_at(8.5))
    assert (round(first.talk), round(second.talk)) == (480, 1320)


def test_a_call_without_conversation_events_keeps_its_rows_span() -> None:
    plain = TalkSpan(A, "c2", _at(1), _at(2))
    assert agent_talks([plain], [_mark(1, "conversation_ended", B, "c2")]) == [plain]
    assert agent_talks([plain], []) == [plain]


def test_a_call_transferred_back_to_its_first_agent_counts_once_for_them() -> None:
    """A answers, hands over to B at 8:10, B hands back at 8:20: A talked twice on one call."""
    call = TalkSpan(A, "c1", _at(8 + 20 / 60), _at(8.5))
    marks = [
        _mark(8, "agent_answered", A),
        _mark(8 + 10 / 60, "conversation_ended", A),
        _mark(8 + 10 / 60, "agent_answered", B),
        _mark(8 + 20 / 60, "conversation_ended", B),
        _mark(8 + 20 / 60, "agent_answered", A),
        _mark(8.5, "conversation_ended", A),
    ]
    first, second = compute(_periods(), [], agent_talks([call], marks), [], now=END)
    assert (first.endpoint, round(first.talk), first.calls) == (A, 1200, 1)
    assert (second.endpoint, round(second.talk), second.calls) == (B, 600, 1)
