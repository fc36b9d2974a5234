"""The copy of the call's arrival on survey answers and notes (migration 0009): filled when a
row is written and by the backfill, and the report's figures the same with or without it."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from zentrale.calls.models import Call, Outcome
from zentrale.calls.store import CallStore, CallUpdate
from zentrale.customers.models import CallNote, NoteKind
from zentrale.customers.store import add_note
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.stats.history import Answer, Rows, Story, insert_rows, rows_of
from zentrale.stats.report import StatsRow, compute
from zentrale.stats.spec import ReportSpec
from zentrale.surveys.answers import AnswerStore, NewAnswer
from zentrale.surveys.models import AnswerStatus, SurveyAnswer

from .conftest import inbound

IST = ZoneInfo("Europe/Istanbul")
# 23:59:30 local on 10 June: the call's answers and notes are written after midnight.
LATE = dt.datetime(2025, 6, 10, 23, 59, 30, tzinfo=IST).astimezone(dt.UTC)
DAY = dt.date(2025, 6, 10)
SPEC = ReportSpec(
    group="department", period="day", first_day=DAY, last_day=DAY + dt.timedelta(days=1), zone=IST
)


async def _copies(db: Database) -> dict[str, set[dt.datetime | None]]:
    async with db.read() as session:
        answers = set(await session.scalars(select(SurveyAnswer.call_arrived_at)))
        notes = set(await session.scalars(select(CallNote.call_arrived_at)))
    return {"answers": answers, "notes": notes}


def _figures(rows: list[StatsRow]) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    return {
        (row.key, row.period_start.date().isoformat()): (
            row.surveys_answered,
            row.surveys_abandoned,
            row.suggestions,
            row.offered,
        )
        for row in rows
    }


async def _report(db: Database, spec: ReportSpec = SPEC) -> list[StatsRow]:
    async with db.read() as session:
        return await compute(session, spec)


@pytest.mark.asyncio
async def test_answers_and_notes_carry_their_calls_arrival(db: Database, calls: CallStore) -> None:
    await calls.create(inbound("c1", at=LATE))
    await calls.update("c1", CallUpdate(department="sales", queued_at=LATE))
    after = LATE + dt.timedelta(minutes=3)  # the next local day
    await AnswerStore(db).record(
        NewAnswer(
            call_id="c1",
            survey="after-call",
            question="q1",
            position=1,
            answer=4,
            status=AnswerStatus.ANSWERED,
            scale="1-5",
            answered_at=after,
        )
    )
    async with db.write() as session:
        call = await session.get(Call, "c1")
        assert call is not None
        await add_note(
            session=session,
            call=call,
            kind=NoteKind.SUGGESTION,
            text="shorter menu",
            author=(None, "Agent"),
            now=after,
        )
    assert await _copies(db) == {"answers": {LATE}, "notes": {LATE}}
    # Counted on the day the call arrived, not the day they were written.
    assert _figures(await _report(db)) == {("sales", "2025-06-10"): (1, 0, 1, 1)}

    # A row written without the copy (by other code) is still counted, from its call.
    async with db.write() as session:
        session.add(
            SurveyAnswer(
                id=str(uuid.uuid4()),
                call_id="c1",
                survey="after-call",
                question="q2",
                position=2,
                answer=None,
                scale="1-5",
                status=AnswerStatus.ABANDONED,
                department="sales",
                answered_at=after,
            )
        )
        session.add(
            CallNote(
                id=str(uuid.uuid4()),
                call_id="c1",
                kind=NoteKind.SUGGESTION,
                text="more agents",
                author_name="A",
                created_at=after,
            )
        )
    assert (await _copies(db))["answers"] == {LATE, None}
    assert _figures(await _report(db)) == {("sales", "2025-06-10"): (1, 1, 2, 1)}


def _stories() -> Rows:
    five = Answer("1-5", AnswerStatus.ANSWERED, 5)
    gone = Answer("0-10", AnswerStatus.ABANDONED)
    return rows_of(
        [
            Story(
                id="late",
                arrived_at=LATE,
                department="sales",
                outcome=Outcome.ANSWERED,
                queued=5,
                agent="PJSIP/1001",
                answered=20,
                conversation_end=200,
                ended=201,
                answers=[five, gone],
                suggestions=2,
            ),
            Story(
                id="next",
                arrived_at=LATE + dt.timedelta(hours=1),
                department="support",
                outcome=Outcome.ANSWERED,
                queued=1,
                agent="PJSIP/1002",
                answered=3,
                conversation_end=40,
                ended=41,
                answers=[five],
                suggestions=1,
            ),
            Story(
                id="before",
                arrived_at=LATE - dt.timedelta(days=2),
                department="sales",
                outcome=Outcome.ANSWERED,
                queued=1,
                agent="PJSIP/1001",
                answered=3,
                conversation_end=40,
                ended=41,
                answers=[five],
                suggestions=1,
            ),
        ]
    )


@pytest.mark.asyncio
async def test_backfill_fills_the_copies_and_the_report_is_unchanged(database_url: str) -> None:
    rows = _stories()
    arrivals = {call["id"]: call["arrived_at"] for call in rows.calls}
    for row in (*rows.answers, *rows.notes):
        assert row.pop("call_arrived_at") == arrivals[row["call_id"]]
    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine, "0008")
        await insert_rows(db, rows)
        await upgrade_engine(db.engine)
        async with db.read() as session:
            copied = {
                (table.__tablename__, row_id): (call_id, arrived)
                for table in (SurveyAnswer, CallNote)
                for row_id, call_id, arrived in await session.execute(
                    select(table.id, table.call_id, table.call_arrived_at)
                )
            }
        assert len(copied) == len(rows.answers) + len(rows.notes) == 8
        assert all(arrived == arrivals[call_id] for call_id, arrived in copied.values())

        report = await _report(db)
        assert _figures(report) == {
            ("sales", "2025-06-10"): (1, 1, 2, 1),
            ("support", "2025-06-11"): (1, 0, 1, 1),
        }
        # Without the copies (the call of each row looked up) every figure is the same.
        async with db.write() as session:
            for table in (SurveyAnswer, CallNote):
                await session.execute(update(table).values(call_arrived_at=None))
        assert await _report(db) == report
        agents = ReportSpec(
            group="agent",
            period="day",
            first_day=DAY,
            last_day=DAY + dt.timedelta(days=1),
            zone=IST,
        )
        by_agent = await _report(db, agents)
        async with db.write() as session:
            for table in (SurveyAnswer, CallNote):
                await session.execute(
                    update(table).values(
                        call_arrived_at=select(Call.arrived_at)
                        .where(Call.id == table.call_id)
                        .scalar_subquery()
                    )
                )
        assert await _report(db, agents) == by_agent
        assert _figures(by_agent) == {
            ("PJSIP/1001", "2025-06-10"): (1, 1, 2, 1),
            ("PJSIP/1002", "2025-06-11"): (1, 0, 1, 1),
        }
