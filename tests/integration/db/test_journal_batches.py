"""The call journal's batches on SQLite and PostgreSQL: many calls' writes in one transaction
land as they would one by one, and a batch that fails is written again one write at a time."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.models import EventKind, Outcome
from zentrale.calls.store import CallStore, CallUpdate, Hangup
from zentrale.db.session import Database
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.surveys.answers import AnswerStore, NewAnswer
from zentrale.surveys.models import AnswerStatus
from zentrale.telephony.journal import Journal
from zentrale.testing.clocks import START

from .conftest import START_TIME, FakeClock, inbound

pytestmark = pytest.mark.asyncio


def _call_writes(journal: Journal, call_id: str) -> None:
    """One answered, recorded call's writes, as the inbound flow makes them."""
    journal.arrived(inbound(call_id))
    journal.event(call_id, EventKind.ARRIVED, {"dialled": "100"})
    journal.update(call_id, CallUpdate(answered_by_app_at=START_TIME))
    journal.event(call_id, EventKind.DIGIT, {"menu": "main", "digits": "1234"}, sensitive=True)
    journal.update(call_id, CallUpdate(department="service", language="de"))
    journal.update(call_id, CallUpdate(queued_at=START_TIME))
    journal.event(call_id, EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"})
    journal.update(call_id, CallUpdate(agent_endpoint="PJSIP/1001", agent_name="Ada"))
    journal.recording_finished(FinishedRecording(call_id, f"{call_id}-rec", "wav"))
    journal.event(call_id, EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"})
    journal.update(call_id, CallUpdate(language="tr"))
    journal.event(call_id, EventKind.HANGUP)
    journal.finished(call_id, Hangup(Outcome.ANSWERED, START_TIME, 16, "Normal Clearing"))


async def _assert_written(calls: CallStore, recordings: RecordingStore, call_id: str) -> None:
    call = await calls.get(call_id)
    assert (call.department, call.agent_endpoint, call.agent_name) == (
        "service",
        "PJSIP/1001",
        "Ada",
    )
    assert (call.language, call.outcome, call.hangup_cause_code) == ("tr", Outcome.ANSWERED, 16)
    assert call.answered_by_app_at is not None
    assert call.conversations == 1
    events = await calls.events(call_id)
    assert [(e.seq, e.kind) for e in events] == list(
        enumerate(
            [
                EventKind.ARRIVED,
                EventKind.DIGIT,
                EventKind.AGENT_ANSWERED,
                EventKind.RECORDING_FINISHED,
                EventKind.CONVERSATION_ENDED,
                EventKind.HANGUP,
            ],
            start=1,
        )
    )
    assert events[1].detail["digits"] == "***"
    assert call.last_event_seq == 6
    # the recording row took the department and agent the updates before it had set
    (recording,) = await recordings.for_call(call_id)
    assert (recording.department, recording.agent_name) == ("service", "Ada")


async def test_the_writes_of_many_calls_in_one_batch_land_as_one_by_one(
    db: Database, calls: CallStore, recordings: RecordingStore
) -> None:
    transactions: list[object] = []
    event.listen(db.engine.sync_engine, "commit", transactions.append)
    journal = Journal(calls, recordings, batch_window=0.2)
    journal.start()
    for number in range(5):  # queued together: one window, one transaction
        _call_writes(journal, f"call-{number}")
    await journal.close()
    assert journal.failures == 0
    assert len(transactions) == 1  # 65 writes
    for number in range(5):
        await _assert_written(calls, recordings, f"call-{number}")


class _FailsOnce(AnswerStore):
    """An answer store whose first write fails, as a database that drops a connection."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.attempts = 0

    async def record_in(self, session: AsyncSession, answer: NewAnswer) -> None:
        self.attempts += 1
        if self.attempts == 1:
            raise ConnectionError("connection reset by peer")
        await super().record_in(session, answer)


async def test_a_failed_batch_is_written_again_one_write_at_a_time_losing_nothing(
    db: Database, calls: CallStore, recordings: RecordingStore
) -> None:
    answers = _FailsOnce(db)
    journal = Journal(calls, recordings, answers=answers, batch_window=0.2, retry_initial=0.01)
    journal.start()
    _call_writes(journal, "call-a")
    journal.survey_answer(
        NewAnswer("call-a", "nps", "q1", 1, 9, AnswerStatus.ANSWERED, "0-10", START)
    )
    _call_writes(journal, "call-b")
    await journal.close()
    assert journal.failures == 1  # the batch; each write alone then succeeded
    assert answers.attempts == 2  # in the batch (failed), then alone
    for call_id in ("call-a", "call-b"):
        await _assert_written(calls, recordings, call_id)
    (row,) = await answers.for_call("call-a")
    assert (row.answer, row.department, row.agent_endpoint) == (9, "service", "PJSIP/1001")


# --- Merged writes: one statement per call and batch, the same rows as one by one -------------

_DETAILS: list[tuple[EventKind, dict[str, object]]] = [
    (EventKind.MENU_ENTERED, {"menu": "main"}),
    (EventKind.TRANSFER, {"to": "sales"}),
    (EventKind.TRANSFER, {"overflow": "sales"}),
    (EventKind.TRANSFER, {"overflow": "service"}),
    (EventKind.TRANSFER, {"overflow": "sales", "to": "service"}),
    (EventKind.TRANSFER, {"overflow": "x" * 200}),  # too long to name: the column says NULL
    (EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"}),
    (EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"}),
    (EventKind.HOLD, {}),
]


@dataclass
class _Script:
    """A random interleaving of several calls' writes, each with its time."""

    writes: list[tuple[str, int, dt.datetime, object]]  # what, call number, time, argument

    @classmethod
    def random(cls, seed: int, calls: int = 4, writes: int = 60) -> _Script:
        rng = random.Random(seed)
        now = START_TIME
        script: list[tuple[str, int, dt.datetime, object]] = []
        for number in range(calls):
            script.append(("arrived", number, now, None))
        recordings = 0
        for _ in range(writes):
            now += dt.timedelta(microseconds=rng.randrange(1, 3_000_000))
            number = rng.randrange(calls)
            what = rng.choice(["event"] * 6 + ["update", "recording"])
            argument: object = None
            if what == "event":
                argument = rng.choice(_DETAILS)
            elif what == "update":
                argument = CallUpdate(department=rng.choice(["sales", "service"]))
            else:
                recordings += 1
                argument = f"rec-{recordings}"
            script.append((what, number, now, argument))
        for number in range(calls):
            script.append(("finished", number, now, None))
        return cls(script)


def _call_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number}"


async def _by_store(
    script: _Script, prefix: str, calls: CallStore, recordings: RecordingStore
) -> None:
    """Each write alone, through the stores (one transaction each): the reference."""
    for what, number, at, argument in script.writes:
        call_id = _call_id(prefix, number)
        if what == "arrived":
            await calls.create(inbound(call_id, at))
        elif what == "event":
            kind, detail = argument  # type: ignore[misc]
            await calls.add_event(call_id, kind, detail, at=at)
        elif what == "update":
            await calls.update(call_id, argument)  # type: ignore[arg-type]
        elif what == "recording":
            await recordings.recording_finished(FinishedRecording(call_id, str(argument), "wav"))
        else:
            await calls.finish(call_id, Hangup(Outcome.ANSWERED, at, 16, "Normal Clearing"))


def _by_journal(script: _Script, prefix: str, journal: Journal, clock: FakeClock) -> None:
    for what, number, at, argument in script.writes:
        call_id = _call_id(prefix, number)
        clock.now = at
        if what == "arrived":
            journal.arrived(inbound(call_id, at))
        elif what == "event":
            kind, detail = argument  # type: ignore[misc]
            journal.event(call_id, kind, detail)
        elif what == "update":
            journal.update(call_id, argument)  # type: ignore[arg-type]
        elif what == "recording":
            journal.recording_finished(FinishedRecording(call_id, str(argument), "wav"))
        else:
            journal.finished(call_id, Hangup(Outcome.ANSWERED, at, 16, "Normal Clearing"))


_FIGURES = ("last_event_seq", "handle_seconds", "conversations", "transfers", "overflows")


async def _written(
    calls: CallStore, recordings: RecordingStore, prefix: str, count: int
) -> list[object]:
    """The calls' rows, timelines and recordings, with what differs between runs left out
    (ids, the recording's own time and id)."""
    found: list[object] = []
    for number in range(count):
        call_id = _call_id(prefix, number)
        call = await calls.get(call_id)
        row = [getattr(call, name) for name in _FIGURES]
        row[1] = round(row[1], 6)  # exact to the microsecond; the sum of one batch is exacter
        row += [call.overflowed_from, call.department, call.ended_at]
        timeline = [
            (e.seq, e.kind, e.at, e.detail)
            if e.kind is not EventKind.RECORDING_FINISHED
            else (e.seq, e.kind)
            for e in await calls.events(call_id)
        ]
        taken = [(r.department, r.asterisk_name) for r in await recordings.for_call(call_id)]
        found.append((row, timeline, taken))
    return found


@pytest.mark.parametrize("batch_max", [500, 5])
async def test_random_interleavings_merged_per_call_land_as_each_write_alone(
    db: Database, clock: FakeClock, batch_max: int
) -> None:
    """Any mix of events (transfers, overflows from one or several departments, conversations),
    row updates and recordings of several calls, merged per call within batches, leaves the
    rows, figures and timelines that the stores leave writing each alone."""
    calls, recordings = CallStore(db, clock), RecordingStore(db, clock)
    for seed in range(12):
        script = _Script.random(seed)
        await _by_store(script, f"store{seed}", calls, recordings)
        journal = Journal(calls, recordings, batch_window=0.05, batch_max=batch_max, clock=clock)
        _by_journal(script, f"journal{seed}", journal, clock)
        journal.start()
        await journal.close()
        assert journal.failures == 0
        expected = await _written(calls, recordings, f"store{seed}", 4)
        assert await _written(calls, recordings, f"journal{seed}", 4) == expected, seed


def _statements_on_calls(db: Database) -> list[str]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(("UPDATE CALLS", "INSERT INTO CALLS ")):
            seen.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    return seen


async def test_a_calls_updates_and_events_in_a_batch_are_one_statement_on_its_row(
    db: Database, calls: CallStore, recordings: RecordingStore
) -> None:
    seen = _statements_on_calls(db)
    journal = Journal(calls, recordings, batch_window=0.05)
    journal.start()
    journal.arrived(inbound("c1"))
    journal.event("c1", EventKind.ARRIVED, {"dialled": "100"})
    journal.update("c1", CallUpdate(answered_by_app_at=START_TIME))
    journal.event("c1", EventKind.ANSWERED)
    await journal.flush()
    assert seen == ["INSERT"]  # the row, born with its first two events numbered
    journal.update("c1", CallUpdate(agent_endpoint="PJSIP/1001"))
    journal.event("c1", EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"})
    journal.event("c1", EventKind.TRANSFER, {"overflow": "sales"})
    journal.event("c1", EventKind.RECORDING_STARTED, {"name": "c1"})
    await journal.flush()
    assert seen == ["INSERT", "UPDATE"]
    journal.event("c1", EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"})
    journal.event("c1", EventKind.HANGUP)
    journal.finished("c1", Hangup(Outcome.ANSWERED, START_TIME, 16, "Normal Clearing"))
    await journal.close()
    assert seen == ["INSERT", "UPDATE", "UPDATE"]  # the arrival was known: no second update
    call = await calls.get("c1")
    assert (call.last_event_seq, call.conversations, call.overflows) == (7, 1, 1)
    assert call.overflowed_from == "sales"
    assert [e.seq for e in await calls.events("c1")] == list(range(1, 8))


async def test_a_journal_that_does_not_know_the_arrival_reads_it_to_count_a_conversation(
    db: Database, calls: CallStore, recordings: RecordingStore, clock: FakeClock
) -> None:
    await calls.create(inbound("c1"))  # written before this journal (a restarted daemon's)
    seen = _statements_on_calls(db)
    journal = Journal(calls, recordings, batch_window=0.05, clock=clock)
    journal.start()
    clock.advance(10)
    journal.event("c1", EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"})
    await journal.flush()
    clock.advance(42.5)
    journal.event("c1", EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"})
    await journal.close()
    # the first batch reads the arrival (a second update); the journal then knows it
    assert seen == ["UPDATE", "UPDATE", "UPDATE"]
    call = await calls.get("c1")
    assert (call.handle_seconds, call.conversations) == (42.5, 1)


async def test_an_event_whose_detail_is_too_large_is_kept_with_the_reason(
    db: Database, calls: CallStore, recordings: RecordingStore
) -> None:
    journal = Journal(calls, recordings, batch_window=0.01)
    journal.start()
    journal.arrived(inbound("c1"))
    journal.event("c1", EventKind.MENU_ENTERED, {"menu": "x" * 5000})
    journal.event("c1", EventKind.HANGUP)
    await journal.close()
    assert journal.failures == 0  # it used to fail, and be retried, for ever
    first, second = await calls.events("c1")
    assert first.kind is EventKind.MENU_ENTERED
    assert "limit is 4096" in first.detail["dropped"]
    assert second.kind is EventKind.HANGUP
