"""The call journal's batches on SQLite and PostgreSQL: many calls' writes in one transaction
land as they would one by one, and a batch that fails is written again one write at a time."""

from __future__ import annotations

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

from .conftest import START_TIME, inbound

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
