"""JobQueue: leases, steps, backoff, parking, expired leases and racing workers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from zentrale.calls.store import CallStore
from zentrale.db.session import Database
from zentrale.recording.errors import LeaseLostError
from zentrale.recording.jobs import JobQueue
from zentrale.recording.models import JobState, JobStep, RecordingJob
from zentrale.recording.store import FinishedRecording, RecordingStore

from .conftest import START_TIME, FakeClock, inbound

LEASE = dt.timedelta(seconds=30)
BACKOFF = dt.timedelta(seconds=30)
STEPS = list(JobStep)


async def _queue_jobs(db: Database, clock: FakeClock, count: int) -> list[str]:
    """Finish COUNT recordings one second apart; return their job ids, oldest first."""
    calls, recordings = CallStore(db, clock), RecordingStore(db, clock)
    job_ids = []
    for n in range(count):
        await calls.create(inbound(f"call-{n}"))
        queued = await recordings.recording_finished(FinishedRecording(f"call-{n}", f"r{n}", "wav"))
        job_ids.append(queued.job_id)
        clock.advance(1)
    return job_ids


@pytest.mark.asyncio
async def test_claim_leases_the_oldest_due_job_once(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    first, second = await _queue_jobs(db, clock, 2)
    job = await jobs.claim("worker-a", LEASE)
    assert job is not None
    assert (job.id, job.step, job.attempts, job.locked_until) == (
        first,
        JobStep.FETCH,
        1,
        clock.now + LEASE,
    )
    again = await jobs.claim("worker-b", LEASE)
    assert again is not None
    assert again.id == second
    assert await jobs.claim("worker-c", LEASE) is None
    row = await jobs.get(first)
    assert row is not None
    assert (row.state, row.locked_by, row.locked_until) == (
        JobState.RUNNING,
        "worker-a",
        clock.now + LEASE,
    )


@pytest.mark.asyncio
async def test_advance_walks_every_step_to_done(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    (job_id,) = await _queue_jobs(db, clock, 1)
    seen = []
    while (job := await jobs.claim("worker-a", LEASE)) is not None:
        seen.append(job.step)
        await jobs.advance(job, STEPS[STEPS.index(job.step) + 1])
    assert seen == STEPS[:-1]
    row = await jobs.get(job_id)
    assert row is not None
    assert (row.step, row.state, row.locked_by) == (JobStep.DONE, JobState.DONE, None)
    backlog = await jobs.backlog()
    assert (dict(backlog.by_state), backlog.due) == ({}, 0)


@pytest.mark.asyncio
async def test_failures_back_off_then_park_the_job_which_stays_in_the_backlog(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    (job_id,) = await _queue_jobs(db, clock, 1)
    states = []
    for _attempt in range(3):
        job = await jobs.claim("worker-a", LEASE)
        assert job is not None
        states.append(await jobs.fail(job, f"upload refused ({job.attempts})", BACKOFF))
        assert await jobs.claim("worker-a", LEASE) is None  # backing off, or parked
        clock.advance(BACKOFF.total_seconds() + 1)
    assert states == [JobState.PENDING, JobState.PENDING, JobState.FAILED]
    assert await jobs.claim("worker-a", LEASE) is None

    backlog = await jobs.backlog()
    assert (backlog.parked, backlog.due, dict(backlog.by_state)) == (1, 0, {JobState.FAILED: 1})
    row = await jobs.get(job_id)
    assert row is not None
    assert (row.step, row.attempts, row.last_error) == (JobStep.FETCH, 3, "upload refused (3)")

    assert await jobs.requeue(job_id)
    assert not await jobs.requeue(job_id)
    retried = await jobs.claim("worker-b", LEASE)
    assert retried is not None
    assert (retried.id, retried.attempts) == (job_id, 1)


@pytest.mark.asyncio
async def test_backlog_counts_due_running_and_waiting_jobs(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    await _queue_jobs(db, clock, 3)
    running = await jobs.claim("worker-a", LEASE)
    waiting = await jobs.claim("worker-a", LEASE)
    assert running is not None
    assert waiting is not None
    await jobs.fail(waiting, "transient", BACKOFF)
    backlog = await jobs.backlog()
    assert dict(backlog.by_state) == {JobState.RUNNING: 1, JobState.PENDING: 2}
    assert backlog.due == 1
    assert backlog.oldest_due_at == START_TIME + dt.timedelta(seconds=2)


@pytest.mark.asyncio
async def test_an_expired_lease_is_released_and_the_old_worker_is_fenced_off(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    (job_id,) = await _queue_jobs(db, clock, 1)
    lost = await jobs.claim("worker-a", LEASE)
    assert lost is not None
    clock.advance(20)
    assert await jobs.release_expired_leases() == 0
    clock.advance(20)
    assert await jobs.release_expired_leases() == 1

    taken = await jobs.claim("worker-b", LEASE)
    assert taken is not None
    assert (taken.id, taken.step, taken.attempts) == (job_id, JobStep.FETCH, 2)
    with pytest.raises(LeaseLostError):
        await jobs.advance(lost, JobStep.TRANSCODE)
    with pytest.raises(LeaseLostError):
        await jobs.fail(lost, "late", BACKOFF)
    await jobs.advance(taken, JobStep.TRANSCODE)
    row = await jobs.get(job_id)
    assert row is not None
    assert (row.step, row.state, row.attempts) == (JobStep.TRANSCODE, JobState.PENDING, 0)


@pytest.mark.asyncio
async def test_a_job_whose_workers_keep_dying_is_parked(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    (job_id,) = await _queue_jobs(db, clock, 1)
    for n in range(3):
        assert await jobs.claim(f"worker-{n}", LEASE) is not None
        clock.advance(LEASE.total_seconds() + 1)
        assert await jobs.release_expired_leases() == 1
    row = await jobs.get(job_id)
    assert row is not None
    assert (row.state, row.locked_by) == (JobState.FAILED, None)
    assert row.last_error is not None
    assert "lease expired" in row.last_error
    assert (await jobs.backlog()).parked == 1


@pytest.mark.asyncio
async def test_extending_a_lease_keeps_the_job(
    db: Database, jobs: JobQueue, clock: FakeClock
) -> None:
    await _queue_jobs(db, clock, 1)
    job = await jobs.claim("worker-a", LEASE)
    assert job is not None
    clock.advance(25)
    job = await jobs.extend(job, LEASE)
    clock.advance(25)
    assert await jobs.release_expired_leases() == 0
    await jobs.advance(job, JobStep.TRANSCODE)


@pytest.mark.asyncio
async def test_racing_workers_never_claim_the_same_job(
    database_url: str, db: Database, clock: FakeClock
) -> None:
    """Six daemons (own engines, own connections) start claiming at the same instant."""
    job_ids = await _queue_jobs(db, clock, 40)
    start = asyncio.Event()

    async def worker(name: str) -> list[str]:
        async with Database.open(database_url) as own:
            queue = JobQueue(own, clock=clock)
            claimed = []
            await start.wait()
            while (job := await queue.claim(name, LEASE)) is not None:
                claimed.append(job.id)
                await asyncio.sleep(0)
            return claimed

    tasks = [asyncio.create_task(worker(f"worker-{n}")) for n in range(6)]
    await asyncio.sleep(0.2)  # every worker has its engine before the gun
    start.set()
    results = await asyncio.gather(*tasks)
    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(job_ids)
    async with db.read() as session:
        owners = (await session.execute(select(RecordingJob.locked_by))).scalars().all()
    assert set(owners) <= {f"worker-{n}" for n in range(6)}
    assert all(owner is not None for owner in owners)


@pytest.mark.asyncio
async def test_a_row_locked_by_another_transaction(
    db: Database, jobs: JobQueue, clock: FakeClock, backend: str
) -> None:
    """PostgreSQL skips the locked row at once; SQLite waits for the writer, then claims it."""
    first, second = await _queue_jobs(db, clock, 2)
    lock = select(RecordingJob).where(RecordingJob.id == first).with_for_update()
    async with db.write() as holder:  # on SQLite, BEGIN IMMEDIATE locks the whole database
        await holder.execute(lock)
        claim = asyncio.create_task(jobs.claim("worker-b", LEASE))
        done, _ = await asyncio.wait({claim}, timeout=1.0)
        assert bool(done) is (backend == "postgresql")
    job = await claim
    assert job is not None
    assert job.id == (second if backend == "postgresql" else first)
