"""Idle pipeline workers wake on the bell (a job queued here, a retry due), else at their poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from zentrale.calls.store import TimelineRows
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording import audio
from zentrale.recording.bell import JobBell
from zentrale.recording.jobs import JobQueue
from zentrale.recording.models import JobState, JobStep, Recording, RecordingState
from zentrale.recording.pipeline import Pipeline, PipelineConfig
from zentrale.recording.sources import DirectorySource
from zentrale.recording.steps.base import Step, Tools
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.recording.worker import WorkerOptions, running
from zentrale.recording.workspace import Workspace
from zentrale.testing.recordings import queue_recordings

LONG_POLL = 30.0  # far longer than any test waits: a job seen sooner was not found by polling
# Upper bounds only say "not the poll"; they stay far from LONG_POLL so a loaded machine
# (CI runs two workers beside Asterisk) cannot fail them. Lower bounds ("not before") hold
# under any load.
SOON = LONG_POLL / 3


@dataclass
class Marks:
    """When the one test step ran for each recording, and how often it is still to fail."""

    ran: dict[str, float] = field(default_factory=dict)
    failures: int = 0

    def step(self) -> Step:
        async def mark(_tools: Tools, recording: Recording) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("failing as asked")
            self.ran[recording.id] = time.monotonic()

        return Step(JobStep.FETCH, mark)  # the first step of every job

    async def ran_for(self, recording_id: str, within: float) -> float:
        deadline = time.monotonic() + within
        while recording_id not in self.ran:
            assert time.monotonic() < deadline, f"{recording_id} not worked within {within} s"
            await asyncio.sleep(0.01)
        return self.ran[recording_id]


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    await upgrade_engine(database.engine)
    try:
        yield database
    finally:
        await database.close()


def pipeline(db: Database, tmp: Path, marks: Marks) -> Pipeline:
    return Pipeline(
        recordings=RecordingStore(db),
        source=DirectorySource(tmp),
        store=LocalStore(tmp / "objects"),
        recipients=[],
        workspace=Workspace(tmp / "work"),
        config=PipelineConfig(audio.FORMATS["wav"], "local"),
        steps=[marks.step()],
    )


def options(poll: float = LONG_POLL, backoff: float = 0.3) -> WorkerOptions:
    return WorkerOptions(lease=5, poll=poll, backoff_initial=backoff, backoff_max=backoff)


@pytest.mark.asyncio
async def test_a_ring_wakes_one_waiter_and_a_ring_nobody_heard_wakes_the_next() -> None:
    bell = JobBell()
    first, second = (asyncio.create_task(bell.wait(LONG_POLL)) for _ in range(2))
    await asyncio.sleep(0.01)
    bell.ring()
    await asyncio.wait({first, second}, timeout=SOON, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0.05)  # had the ring woken both, the second would be done by now
    assert [task.result() for task in (first, second) if task.done()] == [True]
    bell.ring()
    assert await asyncio.wait_for(asyncio.gather(first, second), SOON) == [True, True]
    bell.ring()  # nobody waits: kept for the next worker that waits
    assert await asyncio.wait_for(bell.wait(LONG_POLL), SOON) is True
    assert await bell.wait(0.05) is False


@pytest.mark.asyncio
async def test_each_ring_nobody_heard_is_kept_for_one_wait() -> None:
    bell = JobBell()
    for _ in range(3):  # three jobs queued while every worker was busy
        bell.ring()
    assert [await asyncio.wait_for(bell.wait(LONG_POLL), SOON) for _ in range(3)] == [True] * 3
    assert await bell.wait(0.05) is False


@pytest.mark.asyncio
async def test_a_due_ring_comes_at_its_time_not_before() -> None:
    bell = JobBell()
    started = time.monotonic()
    bell.due_in(0.2)
    assert bell.pending_timers == 1
    assert await bell.wait(LONG_POLL) is True
    assert 0.2 <= time.monotonic() - started < SOON
    assert bell.pending_timers == 0


@pytest.mark.asyncio
async def test_only_a_committed_job_rings(db: Database) -> None:
    bell = JobBell()
    (queued,) = await queue_recordings(db, ["c-1"], bell=bell)
    assert bell.rings == 1
    store = RecordingStore(db, bell=bell)
    finished = FinishedRecording((await store.get(queued.recording_id)).call_id, "c-2", "wav")

    async def rolled_back() -> None:
        async with db.write() as session:
            await store.recording_finished_in(session, finished, TimelineRows())
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await rolled_back()
    assert bell.rings == 1
    assert len(await store.for_call(finished.call_id)) == 1


@pytest.mark.asyncio
async def test_a_job_queued_here_is_worked_at_once_not_at_the_poll(
    db: Database, tmp_path: Path
) -> None:
    marks, bell = Marks(), JobBell()
    queue = JobQueue(db, bell=bell)
    async with running(queue, pipeline(db, tmp_path, marks), 2, "n1", options()) as pool:
        await asyncio.sleep(0.1)  # both workers claimed nothing and wait
        queued_at = time.monotonic()
        (queued,) = await queue_recordings(db, ["c-1"], bell=bell)
        worked_at = await marks.ran_for(queued.recording_id, within=SOON)
        assert worked_at - queued_at < SOON
        assert pool.stats.wakeups <= 3  # the ring woke one worker, not a poll loop
    assert (await RecordingStore(db).get(queued.recording_id)).state == RecordingState.FINISHED


@pytest.mark.asyncio
async def test_a_retry_wakes_a_worker_when_it_comes_due(db: Database, tmp_path: Path) -> None:
    marks, bell = Marks(failures=1), JobBell()
    queue = JobQueue(db, bell=bell)
    async with running(queue, pipeline(db, tmp_path, marks), 1, "n1", options(backoff=0.4)):
        queued_at = time.monotonic()
        (queued,) = await queue_recordings(db, ["c-1"], bell=bell)
        worked_at = await marks.ran_for(queued.recording_id, within=SOON)
    # the backoff is 0.4 s with 20 % jitter: not before 0.32 s, and long before the poll
    assert 0.32 <= worked_at - queued_at < SOON
    job = await queue.get(queued.job_id)
    assert marks.failures == 0
    assert job is not None
    assert job.state == JobState.DONE


@pytest.mark.asyncio
async def test_another_nodes_job_is_found_by_the_poll(db: Database, tmp_path: Path) -> None:
    marks, bell = Marks(), JobBell()
    queue = JobQueue(db, bell=bell)
    async with running(queue, pipeline(db, tmp_path, marks), 2, "n1", options(poll=0.3)) as pool:
        await asyncio.sleep(0.05)
        (queued,) = await queue_recordings(db, ["c-1"])  # another node: no ring here
        await marks.ran_for(queued.recording_id, within=5)
        assert pool.stats.wakeups >= 1
    assert bell.rings >= 1  # the worker that found it rang for a second job


@pytest.mark.asyncio
async def test_stopping_wakes_idle_workers_at_once(db: Database, tmp_path: Path) -> None:
    queue = JobQueue(db, bell=JobBell())
    async with running(queue, pipeline(db, tmp_path, Marks()), 2, "n1", options()):
        await asyncio.sleep(0.05)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < SOON
