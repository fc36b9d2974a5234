"""The agent state log through the real call journal, and the agent figures read back from it,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from zentrale.calls.agent_states import AgentStateRow
from zentrale.calls.models import EventKind, Outcome
from zentrale.calls.store import CallStore, CallUpdate, Hangup, append_event
from zentrale.db.session import Database
from zentrale.recording.store import RecordingStore
from zentrale.stats.agent_store import agent_figures
from zentrale.stats.spec import ReportSpec
from zentrale.telephony.agent_log import AgentLog
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.journal import Journal

from .conftest import inbound

pytestmark = pytest.mark.asyncio
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
A = "PJSIP/1001"


class Clocks:
    """One hand-moved time, as the board's monotonic and the log's wall clock."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wall(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.seconds)

    def __call__(self) -> float:
        return self.seconds


async def _hold(calls: CallStore, call_id: str, held: float, back: float) -> None:
    """Put the caller on hold at T0 + HELD seconds, until T0 + BACK (events at those times)."""
    async with calls.database.write() as session:
        for seconds, kind in ((held, EventKind.HOLD), (back, EventKind.UNHOLD)):
            at = T0 + dt.timedelta(seconds=seconds)
            await append_event(session, call_id, kind, {"party": "agent"}, at)


async def test_the_log_survives_a_restart_and_the_figures_read_it(
    db: Database, calls: CallStore, recordings: RecordingStore
) -> None:
    journal = Journal(calls, recordings, batch_window=0)
    journal.start()
    clocks = Clocks()
    board, agent_log = AgentBoard(clocks), AgentLog(journal, "node1", clocks.wall)
    agent_log.start()
    board.observe(agent_log.changed)
    board.know([(A, "Ayla")])
    board.set_online(A, True)  # Asterisk: the phone is registered
    clocks.seconds = 600
    board.pause(A, True, "break")
    clocks.seconds = 900
    board.pause(A, False)
    journal.arrived(inbound("c1", T0 + dt.timedelta(seconds=950)))
    clocks.seconds = 1000
    board.connected(A, "sales")
    journal.update("c1", CallUpdate(agent_endpoint=A, agent_answered_at=clocks.wall()))
    clocks.seconds = 1300
    board.finished(A, wrap_up=120)
    journal.finished("c1", Hangup(Outcome.ANSWERED, clocks.wall()))
    clocks.seconds = 1400
    await journal.flush()
    await _hold(calls, "c1", 1100, 1160)
    # The daemon dies here: the wrap-up stays open in the table
    restarted = AgentLog(journal, "node1", lambda: T0 + dt.timedelta(hours=1))
    restarted.start()
    await journal.close()
    async with db.read() as session:
        rows = (await session.scalars(select(AgentStateRow).order_by(AgentStateRow.id))).all()
    assert [(row.state, row.reason) for row in rows] == [
        ("available", None),
        ("paused", "break"),
        ("available", None),
        ("on_call", None),
        ("after_call_work", None),
    ]
    assert all(row.ended_at is not None for row in rows)
    assert rows[-1].ended_at == T0 + dt.timedelta(seconds=1300)  # the last the node wrote
    spec = ReportSpec(
        group="agent",
        period="day",
        first_day=dt.date(2026, 12, 1),
        last_day=dt.date(2026, 12, 1),
        zone=ZoneInfo("Europe/Berlin"),
    )
    async with db.read() as session:
        (row,) = await agent_figures(session, spec, [A], T0 + dt.timedelta(hours=2))
        assert await agent_figures(session, spec, ["PJSIP/other"], T0) == []
    assert (row.endpoint, row.name, row.calls) == (A, "Ayla", 1)
    assert (row.signed_in, row.paused, row.after_call_work) == (1300, {"break": 300}, 0)
    assert (round(row.talk, 3), round(row.hold, 3)) == (240, 60)
    assert row.occupancy == round(300 / 1000, 4)


async def test_a_transferred_calls_talk_and_hold_count_for_each_agent_their_own(
    db: Database, calls: CallStore
) -> None:
    """A answers at 1000 s, holds the caller 1100-1160, transfers blind at 1300; B answers at
    1310, holds 1400-1430 and the caller hangs up at 1600."""
    b = "PJSIP/1002"
    await calls.create(inbound("c1", T0 + dt.timedelta(seconds=950)))
    timeline = [
        (1000, EventKind.AGENT_ANSWERED, {"agent": A}),
        (1100, EventKind.HOLD, {"party": "caller"}),
        (1160, EventKind.UNHOLD, {"party": "caller"}),
        (1300, EventKind.TRANSFER, {"mode": "blind", "by": A, "to": "agent:" + b}),
        (1300, EventKind.CONVERSATION_ENDED, {"agent": A}),
        (1310, EventKind.AGENT_ANSWERED, {"agent": b}),
        (1400, EventKind.HOLD, {"party": "caller"}),
        (1430, EventKind.UNHOLD, {"party": "caller"}),
        (1600, EventKind.CONVERSATION_ENDED, {"agent": b}),
    ]
    async with db.write() as session:
        for seconds, kind, detail in timeline:
            await append_event(session, "c1", kind, detail, T0 + dt.timedelta(seconds=seconds))
    at = T0 + dt.timedelta(seconds=1310)
    await calls.update("c1", CallUpdate(agent_endpoint=b, agent_answered_at=at))
    await calls.finish("c1", Hangup(Outcome.ANSWERED, T0 + dt.timedelta(seconds=1600)))
    spec = ReportSpec(
        group="agent",
        period="day",
        first_day=dt.date(2026, 12, 1),
        last_day=dt.date(2026, 12, 1),
        zone=ZoneInfo("Europe/Berlin"),
    )
    now = T0 + dt.timedelta(hours=2)
    async with db.read() as session:
        both = await agent_figures(session, spec, None, now)
        (first,) = await agent_figures(session, spec, [A], now)
    assert [(r.endpoint, round(r.talk, 3), round(r.hold, 3), r.calls) for r in both] == [
        (A, 240, 60, 1),
        (b, 260, 30, 1),
    ]
    assert (first.endpoint, round(first.talk, 3), round(first.hold, 3)) == (A, 240, 60)
