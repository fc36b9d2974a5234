"""Conversation figures in the statistics: per department and agent, the mean agent talk share,
mean overtalk share and mean longest dead air of the analysed recordings, and their count;
checked against figures worked out by hand, in the report, its JSON and CSV, on both databases.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from zentrale.calls.models import Direction
from zentrale.calls.store import CallStore, CallUpdate
from zentrale.cli import main
from zentrale.db.session import Database
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.stats.export import csv_text, row_dict
from zentrale.stats.report import StatsRow, compute
from zentrale.stats.spec import Group, ReportSpec

from .conftest import FakeClock, inbound

IST = ZoneInfo("Europe/Istanbul")
DAY = dt.date(2025, 6, 10)


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2025, 6, day, hour, tzinfo=IST).astimezone(dt.UTC)


@dataclass(frozen=True)
class Talk:
    """A recording's figures as the pipeline leaves them (share None: one mixed channel)."""

    share: float | None
    overtalk_s: float | None
    dead_air_s: float
    duration_s: float = 60.0


@dataclass(frozen=True)
class Made:
    call_id: str
    arrived: dt.datetime
    department: str
    agent: str
    talk: Talk | None  # None: stored, not analysed
    direction: Direction = Direction.INBOUND
    recorded_in: str | None = None  # the conversation's department, when not the call's


HISTORY = [
    Made("a", at(10, 9), "sales", "PJSIP/1001", Talk(0.6, 3.0, 4.0)),
    Made("b", at(10, 10), "sales", "PJSIP/1002", Talk(0.4, 6.0, 2.0)),
    Made("c", at(10, 11), "sales", "PJSIP/1001", None),
    Made("d", at(10, 12), "sales", "PJSIP/1001", Talk(None, None, 6.0, 30.0)),
    # 23:30 local on the 10th: the 10th, whatever the UTC date.
    Made("e", dt.datetime(2025, 6, 10, 23, 30, tzinfo=IST), "support", "PJSIP/1003", None),
    Made("f", at(11, 9), "support", "PJSIP/1003", Talk(0.7, 1.2, 3.5)),
    Made("g", at(11, 10), "sales", "PJSIP/1002", Talk(0.8, 0.0, 0.0), Direction.OUTBOUND),
    # Answered in support, transferred to sales: the conversation counts for support.
    Made("h", at(11, 11), "sales", "PJSIP/1003", Talk(0.5, 12.0, 1.5), recorded_in="support"),
]


async def make(db: Database, clock: FakeClock, made: Made) -> None:
    calls = CallStore(db, clock)
    await calls.create(
        dataclasses.replace(inbound(made.call_id, at=made.arrived), direction=made.direction)
    )
    await calls.update(made.call_id, CallUpdate(department=made.department))
    await calls.update(made.call_id, CallUpdate(agent_endpoint=made.agent))
    finished = FinishedRecording(call_id=made.call_id, asterisk_name="r", format="opus")
    rid = (await RecordingStore(db, clock).recording_finished(finished)).recording_id
    values: dict[str, object] = {"state": RecordingState.STORED, "duration_s": 60.0}
    if made.recorded_in is not None:
        values["department"] = made.recorded_in
    figures = made.talk
    if figures is not None:
        two = figures.share is not None
        values.update(
            duration_s=figures.duration_s,
            talk_customer_s=10.0,
            talk_agent_s=10.0 if two else None,
            dead_air_s=figures.dead_air_s,
            longest_dead_air_s=figures.dead_air_s,
            overtalk_s=figures.overtalk_s,
            overtalk_count=1 if two else None,
            longest_monologue_s=5.0,
            agent_talk_ratio=figures.share,
            talk_segments={"segments": [], "silences": [], "overtalks": []},
        )
    async with db.write() as session:
        await session.execute(update(Recording).where(Recording.id == rid).values(**values))


async def report(
    db: Database, clock: FakeClock, group: Group, departments: tuple[str, ...] | None = None
) -> dict[tuple[str, str], StatsRow]:
    for made in HISTORY:
        await make(db, clock, made)
    spec = ReportSpec(
        group=group,
        period="day",
        first_day=DAY,
        last_day=DAY + dt.timedelta(days=1),
        zone=IST,
        departments=departments,
    )
    async with db.read() as session:
        rows = await compute(session, spec)
    return {(r.key, r.period_start.date().isoformat()): r for r in rows}


def talk(row: StatsRow) -> tuple[int, float | None, float | None, float | None]:
    return (
        row.analysed_recordings,
        row.avg_agent_talk_share,
        row.avg_overtalk_share,
        row.avg_longest_dead_air,
    )


@pytest.mark.asyncio
async def test_talk_averages_by_department(db: Database, clock: FakeClock) -> None:
    rows = await report(db, clock, "department")

    assert {key: talk(row) for key, row in rows.items()} == {
        # a, b and the mixed-channel d; c has no figures. Shares over the two-party a and b:
        # (0.6 + 0.4) / 2, (3/60 + 6/60) / 2; dead air over all three: (4 + 2 + 6) / 3.
        ("sales", "2025-06-10"): (3, 0.5, 0.075, 4.0),
        # e: stored without figures: nothing to average.
        ("support", "2025-06-10"): (0, None, None, None),
        # f and h (recorded in support); g is outbound. (0.7 + 0.5) / 2, (1.2/60 + 12/60) / 2.
        ("support", "2025-06-11"): (2, 0.6, 0.11, 2.5),
        ("sales", "2025-06-11"): (0, None, None, None),  # h's call ended in sales
    }
    assert rows["sales", "2025-06-10"].offered == 4
    assert rows["sales", "2025-06-11"].offered == 1


@pytest.mark.asyncio
async def test_talk_averages_by_agent_and_scope(db: Database, clock: FakeClock) -> None:
    rows = await report(db, clock, "agent")

    assert {key: talk(row) for key, row in rows.items() if row.analysed_recordings} == {
        ("PJSIP/1001", "2025-06-10"): (2, 0.6, 0.05, 5.0),
        ("PJSIP/1002", "2025-06-10"): (1, 0.4, 0.1, 2.0),
        ("PJSIP/1003", "2025-06-11"): (2, 0.6, 0.11, 2.5),
    }

    async with db.read() as session:
        spec = ReportSpec(
            group="department",
            period="day",
            first_day=DAY,
            last_day=DAY + dt.timedelta(days=1),
            zone=IST,
            departments=("sales",),
        )
        scoped = {
            (r.key, r.period_start.date().isoformat()): talk(r)
            for r in await compute(session, spec)
        }
    assert scoped == {
        ("sales", "2025-06-10"): (3, 0.5, 0.075, 4.0),
        ("sales", "2025-06-11"): (0, None, None, None),
    }


@pytest.mark.asyncio
async def test_talk_averages_in_json_and_csv(db: Database, clock: FakeClock) -> None:
    rows = await report(db, clock, "department")
    sales = rows["sales", "2025-06-10"]

    assert {
        k: v
        for k, v in row_dict(sales).items()
        if "talk" in k or "overtalk" in k or "dead" in k or k == "analysed_recordings"
    } == {
        "analysed_recordings": 3,
        "avg_agent_talk_share": 0.5,
        "avg_overtalk_share": 0.075,
        "avg_longest_dead_air": 4.0,
    }
    lines = list(csv.DictReader(io.StringIO(csv_text(rows.values()))))
    found = {(line["key"], line["period_start"][:10]): line for line in lines}
    assert (
        found["sales", "2025-06-10"]["avg_overtalk_share"],
        found["support", "2025-06-10"]["avg_agent_talk_share"],
        found["support", "2025-06-11"]["analysed_recordings"],
    ) == ("0.075", "", "2")


@pytest.mark.asyncio
async def test_talk_averages_in_the_report_command(
    db: Database, database_url: str, clock: FakeClock
) -> None:
    await report(db, clock, "department")
    args = ["report", "--from", "2025-06-10", "--to", "2025-06-11", "--tz", "Europe/Istanbul"]
    env = {"ZENTRALE_DATABASE__URL": database_url}

    done = await asyncio.to_thread(CliRunner().invoke, main, args, env=env)

    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[1].split()[-4:] == ["recs", "agent%", "overt%", "deadair"]
    sales = next(line.split() for line in lines if line.startswith("sales ") and "06-10" in line)
    assert sales[-4:] == ["3", "0.50", "0.07", "4.00"]
