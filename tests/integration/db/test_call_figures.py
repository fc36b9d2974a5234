"""The call row's timeline figures (migration 0008): kept by `append_event`, backfilled from the
timelines by the migration, and read by the statistics report; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Integer, String, column, insert, select, table

from zentrale.calls.models import Call, EventKind, Outcome
from zentrale.calls.store import CallStore, CallUpdate, Hangup
from zentrale.db.base import UtcDateTime
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.stats.history import Rows, Story, figures, rows_of
from zentrale.stats.report import compute
from zentrale.stats.spec import ReportSpec

from .conftest import START_TIME, inbound

IST = ZoneInfo("Europe/Istanbul")
OLD_CALL_COLUMNS = [
    ("id", String()),
    ("direction", String()),
    ("department", String()),
    ("agent_endpoint", String()),
    ("arrived_at", UtcDateTime()),
    ("queued_at", UtcDateTime()),
    ("agent_answered_at", UtcDateTime()),
    ("ended_at", UtcDateTime()),
    ("outcome", String()),
    ("last_event_seq", Integer()),
]
"""The columns of `calls` before migration 0008 that the history fills."""
FIGURES = ("handle_seconds", "conversations", "transfers", "overflows", "overflowed_from")


def at(seconds: float) -> dt.datetime:
    return START_TIME + dt.timedelta(seconds=seconds)


async def _figures(db: Database, call_id: str) -> dict[str, Any]:
    async with db.read() as session:
        row = (
            await session.execute(
                select(*(getattr(Call, n) for n in FIGURES)).where(Call.id == call_id)
            )
        ).one()
    return dict(zip(FIGURES, row, strict=True))


@pytest.mark.asyncio
async def test_append_event_keeps_the_figures(db: Database, calls: CallStore) -> None:
    await calls.create(inbound("c1"))
    assert await _figures(db, "c1") == dict.fromkeys(FIGURES[:4], 0) | {"overflowed_from": None}
    events = [
        (at(3), EventKind.TRANSFER, {"overflow": "sales", "reason": "max_wait"}),
        (at(5), EventKind.TRANSFER, {"overflow": "sales", "reason": "max_wait"}),
        (at(10.25), EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"}),
        (at(70.75), EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"}),
        (at(70.75), EventKind.TRANSFER, {"to": "department:support"}),
        (at(80.000001), EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1002"}),
        (at(100.5), EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1002"}),
        (at(101), EventKind.HANGUP, {"state": "done"}),
    ]
    for when, kind, detail in events:
        await calls.add_event("c1", kind, detail, at=when)
    found = await _figures(db, "c1")
    assert found == {
        "handle_seconds": pytest.approx(60.5 + 20.499999, abs=1e-9),
        "conversations": 2,
        "transfers": 1,
        "overflows": 2,
        "overflowed_from": "sales",
    }
    assert found == pytest.approx(figures(START_TIME, events))
    # A third overflow from another department: the row no longer names one.
    await calls.add_event("c1", EventKind.TRANSFER, {"overflow": "support"}, at=at(102))
    assert (await _figures(db, "c1"))["overflows"] == 3
    assert (await _figures(db, "c1"))["overflowed_from"] is None


@pytest.mark.asyncio
async def test_report_reads_the_figures_the_store_kept(db: Database, calls: CallStore) -> None:
    """A call written through the store, as the call flows write it, in the report."""
    await calls.create(inbound("c1", at=START_TIME))
    await calls.update("c1", CallUpdate(department="sales", queued_at=at(2)))
    await calls.add_event("c1", EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"}, at=at(12))
    await calls.update("c1", CallUpdate(agent_endpoint="PJSIP/1001", agent_answered_at=at(12)))
    await calls.add_event("c1", EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"}, at=at(45.5))
    await calls.add_event("c1", EventKind.TRANSFER, {"to": "department:support"}, at=at(45.5))
    await calls.finish("c1", Hangup(Outcome.TRANSFERRED, at(46)))
    day = START_TIME.astimezone(IST).date()
    async with db.read() as session:
        (row,) = await compute(
            session,
            ReportSpec(group="department", period="day", first_day=day, last_day=day, zone=IST),
        )
    assert (row.key, row.offered, row.answered) == ("sales", 1, 1)
    assert (row.conversations, row.avg_handle, row.transfers) == (1, 33.5, 1)


def _chained(rows: Rows) -> None:
    """Make s2 overflow twice, from two departments (a chain of max_wait overflows)."""
    rows.events.append(
        {
            "call_id": "s2",
            "seq": 90,
            "at": at(4),
            "kind": EventKind.TRANSFER,
            "detail": {"overflow": "billing", "reason": "max_wait"},
        }
    )


STORIES = [
    Story(
        id="s1",
        arrived_at=at(0),
        department="sales",
        outcome=Outcome.TRANSFERRED,
        queued=2,
        agent="PJSIP/1001",
        answered=12,
        conversation_end=70.5,
        ended=71,
        transfers=1,
    ),
    Story(
        id="s2",
        arrived_at=at(60),
        department="support",
        outcome=Outcome.ANSWERED,
        queued=8,
        agent="PJSIP/1002",
        answered=20,
        conversation_end=30.25,
        ended=31,
        overflow_from="sales",
    ),
    Story(
        id="s3",
        arrived_at=at(120),
        department="support",
        outcome=Outcome.ANSWERED,
        queued=8,
        agent="PJSIP/1002",
        answered=20,
        conversation_end=50,
        ended=51,
        overflow_from="sales",
    ),
    Story(
        id="s4",
        arrived_at=at(180),
        department="sales",
        outcome=Outcome.ABANDONED_IN_QUEUE,
        queued=1,
        ended=9,
    ),
]


def _history() -> Rows:
    rows = rows_of(STORIES)
    _chained(rows)
    for call in rows.calls:
        events = [
            (e["at"], e["kind"], e["detail"]) for e in rows.events if e["call_id"] == call["id"]
        ]
        call.update(figures(call["arrived_at"], events))
    return rows


@pytest.mark.asyncio
async def test_backfill_gives_the_figures_of_the_timelines(database_url: str) -> None:
    rows = _history()
    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine, "0007")
        old_calls = table("calls", *(column(name, kind) for name, kind in OLD_CALL_COLUMNS))
        events = table(
            "call_events",
            column("call_id", String()),
            column("seq", Integer()),
            column("at", UtcDateTime()),
            column("kind", String()),
            column("detail", JSON()),
        )
        async with db.write() as session:
            await session.execute(
                insert(old_calls),
                [
                    {
                        name: str(value) if name in ("direction", "outcome") else value
                        for name, value in call.items()
                        if name in old_calls.c
                    }
                    for call in rows.calls
                ],
            )
            await session.execute(
                insert(events), [dict(event, kind=str(event["kind"])) for event in rows.events]
            )
        await upgrade_engine(db.engine)
        for call in rows.calls:
            expected = {name: call[name] for name in FIGURES}
            assert await _figures(db, call["id"]) == pytest.approx(expected), call["id"]
        # s2 overflowed from billing and sales: the report finds both on its timeline.
        day = START_TIME.astimezone(IST).date()
        async with db.read() as session:
            report = await compute(
                session,
                ReportSpec(group="department", period="day", first_day=day, last_day=day, zone=IST),
            )
    by_key = {row.key: row for row in report}
    assert {key: row.overflows for key, row in by_key.items()} == {
        "billing": 1,
        "sales": 2,
        "support": 0,
    }
    assert (by_key["sales"].conversations, by_key["sales"].avg_handle) == (1, 58.5)
    assert (by_key["support"].conversations, by_key["support"].transfers) == (2, 0)
    assert by_key["support"].avg_handle == pytest.approx((10.25 + 30) / 2, abs=1e-3)
