"""Statistics on a small generated history, checked against figures computed by hand.

Every test runs on SQLite and PostgreSQL (the `db` fixture). The history (Europe/Istanbul,
UTC+3) has the edge cases: a call spanning midnight, a transfer, an overflow to another
department, abandons in queue at and beyond the short-abandon limit, a caller who hung up
during the consent notice, waits at and just beyond the service-level threshold.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zentrale.calls.models import Outcome
from zentrale.db.session import Database
from zentrale.stats.history import Answer, Story, insert_rows, rows_of
from zentrale.stats.report import StatsRow, compute
from zentrale.stats.spec import Group, Period, ReportSpec
from zentrale.surveys.models import AnswerStatus

pytestmark = pytest.mark.asyncio
IST = ZoneInfo("Europe/Istanbul")
ANNA, BEN, CEM = "PJSIP/anna", "PJSIP/ben", "PJSIP/cem"
ANSWERED, ABANDONED = Outcome.ANSWERED, Outcome.ABANDONED_IN_QUEUE
OK = AnswerStatus.ANSWERED


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """An instant of March 2026 in Istanbul."""
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=IST)


HISTORY = [
    Story(
        id="s1",
        arrived_at=local(2, 10),
        department="sales",
        outcome=ANSWERED,
        queued=2,
        agent=ANNA,
        answered=12,
        conversation_end=72,
        ended=80,
        suggestions=1,
        answers=[Answer("1-5", OK, 5), Answer("1-5", OK, 4)],
    ),
    Story(
        id="s2",
        arrived_at=local(2, 11),
        department="sales",
        outcome=ANSWERED,
        queued=1,
        agent=BEN,
        answered=21,
        conversation_end=141,
        ended=141,
        answers=[Answer("1-5", OK, 2), Answer("1-5", AnswerStatus.UNANSWERED)],
    ),
    Story(
        id="s3",
        arrived_at=local(2, 12),
        department="sales",
        outcome=Outcome.TRANSFERRED,
        queued=1,
        agent=ANNA,
        answered=21.5,
        conversation_end=51.5,
        ended=200,
        transfers=1,
    ),
    Story(
        id="s4", arrived_at=local(2, 13), department="sales", outcome=ABANDONED, queued=2, ended=6
    ),
    Story(
        id="s5",
        arrived_at=local(2, 14),
        department="sales",
        outcome=ABANDONED,
        queued=2,
        ended=7,
        answers=[Answer("1-5", AnswerStatus.ABANDONED)],
    ),
    Story(
        id="s6", arrived_at=local(2, 15), department="sales", outcome=ABANDONED, queued=2, ended=62
    ),
    Story(
        id="s7",
        arrived_at=local(2, 23, 59, 30),
        department="sales",
        outcome=ANSWERED,
        queued=5,
        agent=BEN,
        answered=35,
        conversation_end=635,
        ended=640,
    ),
    Story(
        id="s8",
        arrived_at=local(2, 16),
        department="support",
        outcome=ANSWERED,
        queued=121,
        agent=CEM,
        answered=131,
        conversation_end=191,
        ended=191,
        overflow_from="sales",
        answers=[Answer("0-10", OK, 10), Answer("0-10", OK, 9), Answer("0-10", OK, 6)],
    ),
    Story(
        id="s9",
        arrived_at=local(3, 0, 0, 10),
        department="sales",
        outcome=ANSWERED,
        queued=0,
        agent=ANNA,
        answered=5,
        conversation_end=55,
        ended=55,
    ),
    Story(
        id="s10",
        arrived_at=local(4, 9),
        department="sales",
        outcome=ANSWERED,
        queued=0,
        agent=ANNA,
        answered=1,
        conversation_end=2,
        ended=2,
    ),
    Story(
        id="s11",
        arrived_at=local(2, 9),
        department=None,
        outcome=Outcome.CLOSED,
        queued=None,
        ended=10,
    ),
    Story(
        id="s12",
        arrived_at=local(2, 17),
        department="sales",
        outcome=ABANDONED,
        queued=None,
        ended=3,
    ),
]


Rows = dict[tuple[str, str], StatsRow]


async def report(
    db: Database,
    group: Group = "department",
    period: Period = "day",
    last_day: int = 3,
    **options: object,
) -> Rows:
    await insert_rows(db, rows_of(HISTORY))
    spec = ReportSpec(
        group=group,
        period=period,
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, last_day),
        zone=IST,
        service_level={"support": 30.0},
        short_abandon=5.0,
        **options,  # type: ignore[arg-type]
    )
    async with db.read() as session:
        rows = await compute(session, spec)
    return {(row.key, row.period_start.isoformat()): row for row in rows}


MONDAY, TUESDAY = "2026-03-02T00:00:00+03:00", "2026-03-03T00:00:00+03:00"


async def test_department_day_figures(db: Database) -> None:
    rows = await report(db)
    assert sorted(rows) == [("sales", MONDAY), ("sales", TUESDAY), ("support", MONDAY)]
    sales = rows["sales", MONDAY]
    # s1 s2 s3 s4 s5 s6 s7 s12 (s7 arrived 23:59:30 and ended on Tuesday; s8 ended in support)
    assert (sales.offered, sales.answered, sales.abandoned) == (8, 4, 4)
    assert sales.abandoned_short == 3  # s4 waited 4 s, s5 exactly 5 s, s12 never queued
    assert sales.avg_wait == 20.125  # (10 + 20 + 20.5 + 30) / 4
    assert sales.p90_wait == 27.15  # rank 3.7 of 4: 20.5 * 0.3 + 30 * 0.7
    assert sales.answered_in_service_level == 2  # 10 s and exactly 20 s; not 20.5 s
    assert sales.service_level == 0.25
    assert sales.abandon_rate == 0.5
    assert (sales.conversations, sales.avg_handle) == (4, 202.5)  # (60+120+30+600)/4
    assert (sales.transfers, sales.overflows, sales.suggestions) == (1, 1, 1)
    assert (sales.surveys_answered, sales.surveys_unanswered, sales.surveys_abandoned) == (3, 1, 1)
    five = sales.scores["1-5"]
    assert (five.count, five.mean, five.csat) == (3, 3.667, 0.6667)
    assert five.distribution == {2: 1, 4: 1, 5: 1}
    tuesday = rows["sales", TUESDAY]
    assert (tuesday.offered, tuesday.answered, tuesday.avg_wait, tuesday.p90_wait) == (1, 1, 5, 5)
    assert (tuesday.service_level, tuesday.avg_handle, tuesday.overflows) == (1.0, 50, 0)


async def test_overflowed_call_counts_where_it_was_answered(db: Database) -> None:
    support = (await report(db))["support", MONDAY]
    assert (support.offered, support.answered, support.avg_wait) == (1, 1, 10)
    assert support.service_level == 1.0  # support's own threshold: 30 s
    assert support.overflows == 0
    nps = support.scores["0-10"]
    assert (nps.count, nps.nps, nps.csat) == (3, 33.3, None)  # (2 promoters - 1 detractor) / 3


async def test_agent_figures(db: Database) -> None:
    rows = await report(db, group="agent")
    assert sorted(key for key, day in rows if day == MONDAY) == [ANNA, BEN, CEM]
    anna, ben, cem = (rows[agent, MONDAY] for agent in (ANNA, BEN, CEM))
    assert (anna.offered, anna.answered, anna.avg_wait, anna.p90_wait) == (2, 2, 15.25, 19.45)
    assert (anna.service_level, anna.avg_handle, anna.transfers) == (0.5, 45, 1)
    assert (anna.suggestions, anna.scores["1-5"].csat) == (1, 1.0)
    assert (ben.avg_wait, ben.p90_wait, ben.service_level, ben.avg_handle) == (25, 29, 0.5, 360)
    assert (cem.service_level, cem.overflows) == (1.0, 0)


async def test_hours_and_weeks(db: Database) -> None:
    hours = await report(db, period="hour")
    late = hours["sales", "2026-03-02T23:00:00+03:00"]
    assert (late.offered, late.answered, late.avg_handle) == (1, 1, 600)
    assert hours["sales", "2026-03-02T13:00:00+03:00"].abandoned_short == 1
    weeks = await report_again(db, period="week")
    assert sorted(weeks) == [("sales", MONDAY), ("support", MONDAY)]
    assert (weeks["sales", MONDAY].offered, weeks["sales", MONDAY].answered) == (9, 5)


async def report_again(db: Database, period: Period) -> dict[tuple[str, str], StatsRow]:
    spec = ReportSpec(
        group="department",
        period=period,
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 3),
        zone=IST,
        service_level={"support": 30.0},
    )
    async with db.read() as session:
        return {(r.key, r.period_start.isoformat()): r for r in await compute(session, spec)}


async def test_range_ends_and_scope(db: Database) -> None:
    rows = await report(db, last_day=2, departments=["support"])
    assert list(rows) == [("support", MONDAY)]


async def test_short_abandon_limit_is_configurable(db: Database) -> None:
    rows = await report(db)
    await_zero = await report_limit(db, 0.0)
    assert rows["sales", MONDAY].abandoned_short == 3
    assert await_zero["sales", MONDAY].abandoned_short == 1  # only s12, which never waited


async def report_limit(db: Database, limit: float) -> dict[tuple[str, str], StatsRow]:
    spec = ReportSpec(
        group="department",
        period="day",
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 2),
        zone=IST,
        short_abandon=limit,
    )
    async with db.read() as session:
        return {(r.key, r.period_start.isoformat()): r for r in await compute(session, spec)}


@pytest.mark.parametrize("period", ["day", "hour"])
async def test_daylight_saving_change(db: Database, period: Period) -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks go from 02:00 to 03:00 on 2026-03-29
    stories = [
        Story(
            id=f"d{n}",
            arrived_at=at.replace(tzinfo=berlin),
            department="sales",
            outcome=ABANDONED,
            queued=0,
            ended=1,
        )
        for n, at in enumerate(
            [
                dt.datetime(2026, 3, 28, 23, 30),
                dt.datetime(2026, 3, 29, 1, 30),
                dt.datetime(2026, 3, 29, 3, 30),
                dt.datetime(2026, 3, 29, 23, 30),
            ]
        )
    ]
    await insert_rows(db, rows_of(stories))
    spec = ReportSpec(
        group="department",
        period=period,
        first_day=dt.date(2026, 3, 28),
        last_day=dt.date(2026, 3, 29),
        zone=berlin,
    )
    async with db.read() as session:
        found = {r.period_start.isoformat(): r.offered for r in await compute(session, spec)}
    if period == "day":
        assert found == {"2026-03-28T00:00:00+01:00": 1, "2026-03-29T00:00:00+01:00": 3}
    else:
        assert found == {
            "2026-03-28T23:00:00+01:00": 1,
            "2026-03-29T01:00:00+01:00": 1,
            "2026-03-29T03:00:00+02:00": 1,
            "2026-03-29T23:00:00+02:00": 1,
        }


async def test_calls_ended_by_asterisk_or_the_daemon_going_away_are_dropped_not_abandoned(
    db: Database,
) -> None:
    stories = [
        Story(
            id="f1",
            arrived_at=local(10, 9),
            department="sales",
            outcome=ABANDONED,
            queued=2,
            ended=30,
        ),
        Story(
            id="f2",
            arrived_at=local(10, 10),
            department="sales",
            outcome=Outcome.DROPPED,
            queued=2,
            ended=30,
        ),
        Story(
            id="f3",
            arrived_at=local(10, 11),
            department="sales",
            outcome=Outcome.INTERRUPTED,
            queued=2,
            ended=3,
        ),
    ]
    await insert_rows(db, rows_of(stories))
    spec = ReportSpec(
        group="department",
        period="day",
        first_day=dt.date(2026, 3, 10),
        last_day=dt.date(2026, 3, 10),
        zone=IST,
    )
    async with db.read() as session:
        (sales,) = await compute(session, spec)
    assert (sales.offered, sales.abandoned, sales.dropped) == (3, 1, 2)
    assert sales.abandoned_short == 0  # f3 ended after 1 s in the queue, but nobody hung up
