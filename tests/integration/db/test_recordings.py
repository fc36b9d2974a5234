"""RecordingStore: RecordingFinished writes event, recording and job together, or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from zentrale.calls.errors import CallNotFoundError
from zentrale.calls.models import EventKind
from zentrale.calls.store import CallStore, CallUpdate
from zentrale.db.session import Database
from zentrale.recording.errors import RecordingNotFoundError
from zentrale.recording.jobs import JobQueue
from zentrale.recording.models import JobState, JobStep, RecordingState
from zentrale.recording.store import (
    FinishedRecording,
    RecordingQuery,
    RecordingStore,
    StoredRecording,
    WrappedKey,
)

from .conftest import START_TIME, FakeClock, inbound

FINISHED = FinishedRecording(
    call_id="call-1",
    asterisk_name="zentrale/call-1-0",
    format="wav",
    duration_s=61.5,
    pause_markers=[(10.0, 22.5)],
)
REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_jobs BEFORE INSERT ON recording_jobs "
        "BEGIN SELECT RAISE(ABORT, 'job refused by test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'job refused by test'; END $$",
        "CREATE TRIGGER refuse_jobs BEFORE INSERT ON recording_jobs "
        "FOR EACH ROW EXECUTE FUNCTION refuse_jobs()",
    ],
}


async def _count(db: Database, table: str) -> int:
    async with db.read() as session:
        return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _answered_call(calls: CallStore) -> None:
    await calls.create(inbound())
    await calls.update(
        "call-1", CallUpdate(department="sales", agent_endpoint="PJSIP/1001", agent_name="Ayşe")
    )


@pytest.mark.asyncio
async def test_recording_finished_writes_event_recording_and_job(
    calls: CallStore, recordings: RecordingStore, jobs: JobQueue
) -> None:
    await _answered_call(calls)
    queued = await recordings.recording_finished(FINISHED)

    recording = await recordings.get(queued.recording_id)
    assert (recording.call_id, recording.asterisk_name, recording.state) == (
        "call-1",
        "zentrale/call-1-0",
        RecordingState.FINISHED,
    )
    assert (recording.department, recording.agent_endpoint, recording.agent_name) == (
        "sales",
        "PJSIP/1001",
        "Ayşe",
    )
    assert recording.pause_markers == [[10.0, 22.5]]
    assert (recording.duration_s, recording.created_at) == (61.5, START_TIME)
    job = await jobs.get(queued.job_id)
    assert job is not None
    assert (job.recording_id, job.step, job.state, job.attempts) == (
        queued.recording_id,
        JobStep.FETCH,
        JobState.PENDING,
        0,
    )
    (event,) = await calls.events("call-1")
    assert event.kind is EventKind.RECORDING_FINISHED
    assert event.detail["recording_id"] == queued.recording_id


@pytest.mark.asyncio
async def test_a_replayed_recording_finished_writes_nothing_new(
    calls: CallStore, recordings: RecordingStore, db: Database
) -> None:
    await _answered_call(calls)
    first = await recordings.recording_finished(FINISHED)
    again = await recordings.recording_finished(FINISHED)
    assert again == first
    assert (await _count(db, "recordings"), await _count(db, "recording_jobs")) == (1, 1)
    assert len(await calls.events("call-1")) == 1
    other = await recordings.recording_finished(
        FinishedRecording("call-1", "zentrale/call-1-1", "wav")
    )
    assert other.recording_id != first.recording_id
    assert await _count(db, "recordings") == 2


@pytest.mark.asyncio
async def test_a_failing_job_insert_leaves_nothing_behind(
    calls: CallStore, recordings: RecordingStore, db: Database, backend: str
) -> None:
    await _answered_call(calls)
    async with db.write() as session:
        for statement in REFUSE[backend]:
            await session.execute(text(statement))

    with pytest.raises(DBAPIError, match="job refused by test"):
        await recordings.recording_finished(FINISHED)

    assert await _count(db, "recordings") == 0
    assert await _count(db, "recording_jobs") == 0
    assert await calls.events("call-1") == []
    assert (await calls.get("call-1")).last_event_seq == 0


@pytest.mark.asyncio
async def test_a_recording_of_an_unknown_call_is_refused(
    recordings: RecordingStore, db: Database
) -> None:
    with pytest.raises(CallNotFoundError):
        await recordings.recording_finished(FINISHED)
    assert await _count(db, "recordings") == 0


@pytest.mark.asyncio
async def test_stored_recording_keeps_keys_header_and_waveform(
    calls: CallStore, recordings: RecordingStore
) -> None:
    await _answered_call(calls)
    queued = await recordings.recording_finished(FINISHED)
    stored = StoredRecording(
        plaintext_size=5_000_000_000,
        object_size=5_001_220_736,
        sha256_plain="a" * 64,
        sha256_cipher="b" * 64,
        storage_backend="s3",
        object_key="2026/03/02/call-1-0.opus.enc",
        wrapped_keys=[
            WrappedKey("kek-2026", "vault", "d3JhcHBlZA=="),
            WrappedKey("escrow-1", "file", "ZXNjcm93"),
        ],
        encryption_header={"alg": "AES-256-GCM", "chunk": 65536, "nonce": "AAEC"},
        stored_at=START_TIME + dt.timedelta(minutes=1),
        waveform=bytes([0, 17, 255, 3]),
        silent=True,
    )
    await recordings.mark_stored(queued.recording_id, stored)
    await recordings.mark_corrupt(queued.recording_id)

    recording = await recordings.get(queued.recording_id)
    assert recording.state is RecordingState.STORED
    assert recording.wrapped_keys == [
        {"key_id": "kek-2026", "provider": "vault", "wrapped": "d3JhcHBlZA=="},
        {"key_id": "escrow-1", "provider": "file", "wrapped": "ZXNjcm93"},
    ]
    assert recording.encryption_header == {"alg": "AES-256-GCM", "chunk": 65536, "nonce": "AAEC"}
    assert recording.waveform == bytes([0, 17, 255, 3])
    assert (recording.plaintext_size, recording.object_size) == (5_000_000_000, 5_001_220_736)
    assert (recording.silent, recording.corrupt, recording.duration_s) == (True, True, 61.5)
    assert recording.stored_at == START_TIME + dt.timedelta(minutes=1)
    with pytest.raises(RecordingNotFoundError):
        await recordings.mark_stored("nope", stored)


@pytest.mark.asyncio
async def test_qa_search_by_department_and_agent_in_a_window(
    calls: CallStore, recordings: RecordingStore, clock: FakeClock
) -> None:
    people = [
        ("c1", "sales", "PJSIP/1001"),
        ("c2", "support", "PJSIP/2001"),
        ("c3", "sales", "PJSIP/1002"),
    ]
    for call_id, department, agent in people:
        await calls.create(inbound(call_id))
        await calls.update(call_id, CallUpdate(department=department, agent_endpoint=agent))
        clock.advance(60)
        await recordings.recording_finished(FinishedRecording(call_id, f"r-{call_id}", "wav"))

    window = {"since": START_TIME, "until": START_TIME + dt.timedelta(hours=1)}
    sales = await recordings.search(RecordingQuery(**window, department="sales"))
    assert [recording.call_id for recording in sales] == ["c3", "c1"]
    agent = await recordings.search(RecordingQuery(**window, agent_endpoint="PJSIP/2001"))
    assert [recording.call_id for recording in agent] == ["c2"]
    early = RecordingQuery(since=START_TIME, until=START_TIME + dt.timedelta(seconds=90))
    assert [recording.call_id for recording in await recordings.search(early)] == ["c1"]
    assert [recording.call_id for recording in await recordings.for_call("c2")] == ["c2"]
