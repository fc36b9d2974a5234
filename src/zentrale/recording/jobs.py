"""`JobQueue`: the recording pipeline's durable queue, shared by every daemon on the database.

A worker `claim`s one due job under a lease, does the job's step, then `advance`s it to the
next step or `fail`s it with a backoff. A job that fails `max_attempts` times in one step is
parked (`failed`), never dropped: it stays in `backlog()` until an operator `requeue`s it. A
worker that dies leaves its lease to expire; `release_expired_leases` hands the job to the
next worker. On PostgreSQL the claim is `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
LOCKED)`, so daemons never wait for each other's rows; on SQLite the same single statement
runs under `BEGIN IMMEDIATE`, which serialises claimers. The attempt counter doubles as a
fencing token: a worker whose job was taken from it gets `LeaseLostError` instead of overwriting.
The queue rings its `JobBell` for what it makes due in this process (a retry's backoff ending,
requeued jobs, released leases), so this process's idle workers need not poll for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement

from zentrale.base.clock import Clock, utcnow
from zentrale.db.base import column_values
from zentrale.db.session import Database
from zentrale.recording.bell import JobBell
from zentrale.recording.errors import LeaseLostError
from zentrale.recording.models import JobState, JobStep, Recording, RecordingJob, RecordingState

log = structlog.get_logger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
MAX_ERROR_CHARS = 2000
LEASE_EXPIRED = "lease expired: the worker died or stalled"
RING_MOST = 64
"""Most rings for one batch of jobs made due: a worker claims again after every job it ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A job as claimed by a worker: its step's name, the attempt number and the lease."""

    id: str
    recording_id: str
    step: str
    attempts: int
    """The row's attempt counter: the attempt of the step the row names, and the fencing token
    every write of the holder checks."""
    worker_id: str
    locked_until: dt.datetime
    went_on: bool = False
    """Whether the worker went on to `step` without writing it (`Job.then`): the row still
    names an earlier step, and this step is on its first attempt."""

    @property
    def attempt(self) -> int:
        """This step's attempt number."""
        return 1 if self.went_on else self.attempts

    def then(self, step: str) -> Job:
        """Return the job gone on to STEP in memory (its row is written at the next save)."""
        return replace(self, step=step, went_on=True)


@dataclass(frozen=True, slots=True)
class Backlog:
    """Counts for metrics: jobs per state (done excluded), due now, and the oldest due time."""

    by_state: Mapping[JobState, int]
    due: int
    oldest_due_at: dt.datetime | None

    @property
    def parked(self) -> int:
        """Jobs parked after too many failures."""
        return self.by_state.get(JobState.FAILED, 0)


class JobQueue:
    """Claim, advance and fail recording-pipeline jobs."""

    def __init__(
        self,
        db: Database,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Clock = utcnow,
        bell: JobBell | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._db = db
        self._max_attempts = max_attempts
        self._clock = clock
        self.bell = bell or JobBell()
        """Rung for the jobs this queue makes due; the workers wait on it."""

    async def claim(self, worker_id: str, lease: dt.timedelta) -> Job | None:
        """Lease the most overdue pending job to WORKER_ID, or return None if none is due."""
        now = self._clock()
        parameters = {"p_now": now, "p_worker": worker_id, "p_until": now + lease}
        async with self._db.write() as session:
            row = (await (await session.connection()).execute(_CLAIM, parameters)).one_or_none()
        if row is None:
            return None
        job = Job(
            id=row.id,
            recording_id=row.recording_id,
            step=row.step,
            attempts=row.attempts,
            worker_id=worker_id,
            locked_until=now + lease,
        )
        log.debug("job claimed", job_id=job.id, step=job.step, attempt=job.attempts)
        return job

    async def extend(self, job: Job, lease: dt.timedelta) -> Job:
        """Renew the lease of a job still held (a heartbeat for long steps)."""
        until = self._clock() + lease
        await self._update_held(job, {"locked_until": until})
        return replace(job, locked_until=until)

    async def advance(self, job: Job, next_step: str) -> None:
        """Finish the job's current step; the job waits for NEXT_STEP (or is done)."""
        state = JobState.DONE if next_step == JobStep.DONE else JobState.PENDING
        values = {"step": next_step, "state": state, "attempts": 0, "last_error": None}
        await self._update_held(job, {**values, **_unlocked(self._clock())})
        log.debug("job advanced", job_id=job.id, step=str(next_step))

    async def proceed(self, job: Job, next_step: str, lease: dt.timedelta) -> Job:
        """Finish the job's step and keep the job leased for NEXT_STEP (its first attempt).

        A worker that goes straight on with the same recording uses this instead of
        `advance` + `claim`, so one recording is finished before the next is started.
        """
        until = self._clock() + lease
        values = {"step": next_step, "attempts": 1, "last_error": None, "locked_until": until}
        await self._update_held(job, values)
        log.debug("job proceeded", job_id=job.id, step=str(next_step))
        return Job(
            id=job.id,
            recording_id=job.recording_id,
            step=next_step,
            attempts=1,
            worker_id=job.worker_id,
            locked_until=until,
        )

    async def fail(self, job: Job, error: str, backoff: dt.timedelta) -> JobState:
        """Record a failed attempt: retry after BACKOFF, or park the job after max attempts."""
        now = self._clock()
        parked = job.attempt >= self._max_attempts
        state = JobState.FAILED if parked else JobState.PENDING
        values = {
            "state": state,
            "step": job.step,
            "attempts": job.attempt,
            "last_error": error[:MAX_ERROR_CHARS],
            **_unlocked(now),
        }
        await self._update_held(job, {**values, "next_attempt_at": now + backoff})
        if not parked:
            self.bell.due_in(backoff.total_seconds())
        if parked:
            log.warning("job parked", job_id=job.id, step=str(job.step), attempts=job.attempt)
        return state

    async def postpone(self, job: Job, error: str, delay: dt.timedelta) -> None:
        """Hand the job back to wait DELAY without counting the attempt (the store is away).

        An outage is nobody's fault: however long it lasts, the job never parks for it.
        """
        now = self._clock()
        values = {
            "state": JobState.PENDING,
            "step": job.step,
            "attempts": job.attempt - 1,
            "last_error": error[:MAX_ERROR_CHARS],
            **_unlocked(now),
        }
        await self._update_held(job, {**values, "next_attempt_at": now + delay})
        self.bell.due_in(delay.total_seconds())

    async def release_expired_leases(self) -> int:
        """Give jobs whose lease ran out back to the queue (or park them); return how many."""
        now = self._clock()
        expired = (RecordingJob.state == JobState.RUNNING, RecordingJob.locked_until < now)
        exhausted = RecordingJob.attempts >= self._max_attempts
        async with self._db.write() as session:
            parked = await _rowcount(session, (*expired, exhausted), JobState.FAILED, now)
            released = await _rowcount(session, (*expired, ~exhausted), JobState.PENDING, now)
        if parked or released:
            log.warning("job leases expired", released=released, parked=parked)
        self._ring(released)
        return parked + released

    async def requeue(self, job_id: str) -> bool:
        """Put a parked job back in the queue with fresh attempts; False if it was not parked."""
        return bool(await self.requeue_parked([job_id]))

    async def requeue_parked(self, job_ids: list[str] | None = None) -> list[RecordingJob]:
        """Put parked jobs (those of JOB_IDS, or all) back in the queue with fresh attempts.

        Their recordings, marked failed when the job parked, are `finished` again (waiting for
        the pipeline). Returns the jobs requeued, as they were when parked.
        """
        now = self._clock()
        query = select(RecordingJob).where(RecordingJob.state == JobState.FAILED)
        if job_ids is not None:
            query = query.where(RecordingJob.id.in_(job_ids))
        async with self._db.write() as session:
            parked = list(await session.scalars(query.with_for_update()))
            for job in parked:
                session.expunge(job)
            ids = [job.id for job in parked]
            if not ids:
                return []
            await session.execute(
                update(RecordingJob)
                .where(RecordingJob.id.in_(ids), RecordingJob.state == JobState.FAILED)
                .values(state=JobState.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
            )
            await session.execute(
                update(Recording)
                .where(
                    Recording.id.in_([job.recording_id for job in parked]),
                    Recording.state == RecordingState.FAILED,
                )
                .values(state=RecordingState.FINISHED)
            )
        log.warning("jobs requeued", count=len(parked))
        self._ring(len(parked))
        return parked

    async def get(self, job_id: str) -> RecordingJob | None:
        """Return the job row, or None."""
        async with self._db.read() as session:
            return await session.get(RecordingJob, job_id)

    async def backlog(self) -> Backlog:
        """Count unfinished jobs per state, those due now, and the oldest due time."""
        now = self._clock()
        per_state = (
            select(RecordingJob.state, func.count())
            .where(RecordingJob.state != JobState.DONE)
            .group_by(RecordingJob.state)
        )
        due = select(func.count(), func.min(RecordingJob.next_attempt_at)).where(
            RecordingJob.state == JobState.PENDING, RecordingJob.next_attempt_at <= now
        )
        async with self._db.read() as session:
            counts = {JobState(state): count for state, count in await session.execute(per_state)}
            due_count, oldest = (await session.execute(due)).one()
        return Backlog(by_state=counts, due=due_count, oldest_due_at=oldest)

    def _ring(self, jobs: int) -> None:
        """Ring once per job made due now (at most RING_MOST: busy workers claim on anyway)."""
        for _ in range(min(jobs, RING_MOST)):
            self.bell.ring()

    async def _update_held(self, job: Job, values: dict[str, Any]) -> None:
        parameters = {
            **column_values(RecordingJob, values),
            "updated_at": self._clock(),
            "p_job_id": job.id,
            "p_worker": job.worker_id,
            "p_attempts": job.attempts,
        }
        async with self._db.write() as session:
            result = await (await session.connection()).execute(_UPDATE_HELD, parameters)
            if getattr(result, "rowcount", 0) != 1:
                raise LeaseLostError(job.id, job.worker_id)


# Built once, values as parameters (a statement built per use has SQLAlchemy compute its cache
# key each time; a recording takes a claim and an update per step).
_CANDIDATE = (
    select(RecordingJob.id)
    .where(
        RecordingJob.state == JobState.PENDING,
        RecordingJob.next_attempt_at <= bindparam("p_now"),
    )
    .order_by(RecordingJob.next_attempt_at, RecordingJob.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_CLAIM = (
    update(RecordingJob)
    .where(RecordingJob.id == _CANDIDATE, RecordingJob.state == JobState.PENDING)
    .values(
        state=JobState.RUNNING,
        locked_by=bindparam("p_worker"),
        locked_until=bindparam("p_until"),
        attempts=RecordingJob.attempts + 1,
        updated_at=bindparam("p_now"),
    )
    .returning(RecordingJob.id, RecordingJob.recording_id, RecordingJob.step, RecordingJob.attempts)
)
_UPDATE_HELD = update(RecordingJob).where(
    RecordingJob.id == bindparam("p_job_id"),
    RecordingJob.state == JobState.RUNNING,
    RecordingJob.locked_by == bindparam("p_worker"),
    RecordingJob.attempts == bindparam("p_attempts"),
)


def _unlocked(now: dt.datetime) -> dict[str, Any]:
    return {"locked_by": None, "locked_until": None, "next_attempt_at": now}


async def _rowcount(
    session: AsyncSession,
    where: tuple[ColumnElement[bool], ...],
    state: JobState,
    now: dt.datetime,
) -> int:
    statement = (
        update(RecordingJob)
        .where(*where)
        .values(state=state, last_error=LEASE_EXPIRED, updated_at=now, **_unlocked(now))
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0))
