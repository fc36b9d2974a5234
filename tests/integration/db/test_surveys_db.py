"""Survey answers on SQLite and PostgreSQL: rows linked to the call's department, agent and
latest recording, written through the call journal after the call's own rows."""

from __future__ import annotations

import datetime as dt

import pytest

from zentrale.calls.store import CallStore, CallUpdate
from zentrale.db.session import Database
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.surveys.answers import AnswerStore, NewAnswer
from zentrale.surveys.models import AnswerStatus
from zentrale.telephony.journal import Journal
from zentrale.testing.clocks import START, FakeClock

from .conftest import inbound

pytestmark = pytest.mark.asyncio


def _answer(position: int, answer: int | None, status: AnswerStatus, **more: object) -> NewAnswer:
    return NewAnswer(
        call_id="call-1",
        survey="zufriedenheit",
        question=f"q{position}",
        position=position,
        answer=answer,
        status=status,
        scale="1-5",
        answered_at=START + dt.timedelta(seconds=position),
        **more,
    )  # type: ignore[arg-type]


async def test_answers_carry_department_agent_and_the_latest_recording(
    db: Database, calls: CallStore, recordings: RecordingStore, clock: FakeClock
) -> None:
    journal = Journal(calls, recordings, answers=AnswerStore(db))
    journal.start()
    journal.arrived(inbound("call-1"))
    journal.update("call-1", CallUpdate(department="service", agent_endpoint="PJSIP/1001"))
    journal.recording_finished(
        FinishedRecording(call_id="call-1", asterisk_name="call-1-1", format="wav", duration_s=10.0)
    )
    await journal.flush()
    clock.advance(60)  # a transfer and a second conversation later
    journal.recording_finished(
        FinishedRecording(call_id="call-1", asterisk_name="call-1-2", format="wav", duration_s=20.0)
    )
    journal.survey_answer(_answer(1, 4, AnswerStatus.ANSWERED))
    journal.survey_answer(_answer(2, None, AnswerStatus.UNANSWERED))
    journal.survey_answer(_answer(3, None, AnswerStatus.ABANDONED))
    await journal.close()
    latest = (await recordings.for_call("call-1"))[-1]
    assert latest.asterisk_name == "call-1-2"
    rows = await AnswerStore(db).for_call("call-1")
    assert [(r.position, r.answer, r.status) for r in rows] == [
        (1, 4, AnswerStatus.ANSWERED),
        (2, None, AnswerStatus.UNANSWERED),
        (3, None, AnswerStatus.ABANDONED),
    ]
    assert {(r.department, r.agent_endpoint, r.recording_id, r.campaign_id) for r in rows} == {
        ("service", "PJSIP/1001", latest.id, None)
    }


async def test_campaign_answers_without_agent_or_recording(db: Database, calls: CallStore) -> None:
    await calls.create(inbound("call-1"))
    store = AnswerStore(db)
    await store.record(_answer(1, 5, AnswerStatus.ANSWERED, campaign_id="camp-1"))
    (row,) = await store.for_campaign("camp-1")
    assert (row.answer, row.department, row.agent_endpoint, row.recording_id) == (
        5,
        None,
        None,
        None,
    )
    assert row.answered_at == START + dt.timedelta(seconds=1)
    assert await store.for_campaign("other") == []
