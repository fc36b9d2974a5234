"""Pipeline workers: take recording jobs from the shared queue and run them to the end.

A worker claims the most overdue job (SKIP LOCKED on PostgreSQL, so several daemons share the
queue), then runs its steps one after the other under a lease it renews while a step runs
(`JobQueue.proceed` records each finished step and keeps the lease), so one recording is
finished before the next is started. A failed step is retried with exponential backoff and
jitter; after `max_attempts` the job is parked as failed and its recording marked failed, never
dropped. A worker that dies leaves its lease to expire; the pool's reaper hands the job on. The
pool sweeps the private temporary directory at start and at stop.

An idle worker waits on the queue's `JobBell`: rung when this process queues a job or a retry
comes due, so the job is claimed at once. It asks the database unprompted only every `poll`
seconds (`recording.poll_interval`), for jobs queued by other nodes; a job found that way
rings the bell once more, so another idle worker looks for a second one. A job's progress is
written at most every `checkpoint` seconds (and when it fails or ends), not after every step.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog

from zentrale.base.outage import Outage
from zentrale.recording.errors import LeaseLostError
from zentrale.recording.jobs import Job, JobQueue
from zentrale.recording.models import JobState, JobStep, Recording, RecordingState
from zentrale.recording.pipeline import Pipeline
from zentrale.recording.storage.base import StorageError, StorageFullError, StorageUnavailableError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Timing of the workers (settings do not carry these yet)."""

    lease: float = 60.0
    poll: float = 5.0
    """Seconds an idle worker waits for the bell before it asks the database anyway."""
    backoff_initial: float = 2.0
    backoff_max: float = 300.0
    outage_backoff_max: float = 30.0
    """Longest wait of a job for a store that is away (attempts do not count meanwhile), so
    jobs go on within this long after the store returns."""
    stop_timeout: float = 30.0
    checkpoint: float = 2.0
    """Seconds of steps after which a running job's progress is written to its row; a worker
    that dies redoes at most the steps since (plus the step it was in)."""


@dataclass
class PoolStats:
    """Counters for metrics and `recordings status`."""

    stored: int = 0
    retried: int = 0
    parked: int = 0
    steps: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Failed attempts per step (retried or parked)."""
    storage_errors: int = 0
    db_errors: int = 0
    storage_waits: int = 0
    """Jobs handed back to wait for the store (not counted as attempts)."""
    wakeups: int = 0
    """Times an idle worker woke (rung or at its poll) and asked the database."""
    outage: StoreOutage = field(default_factory=lambda: StoreOutage())
    database: Outage = field(default_factory=lambda: Outage("pipeline.database", log))
    """The workers' view of the database (one warning when it goes, one when it returns)."""


class StoreOutage:
    """Whether the object store is away: one warning when it goes, one when it returns."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.waits = 0

    @property
    def away(self) -> bool:
        """Tell whether the store was last seen unavailable."""
        return self.since is not None

    def unavailable(self, error: str) -> int:
        """Note one job that met the store away; return how many did in this outage."""
        if self.since is None:
            self.since, self.waits = time.monotonic(), 0
            log.warning("pipeline.storage_unavailable", error=error)
        self.waits += 1
        return self.waits

    def returned(self) -> None:
        """Note that the store answered again."""
        if self.since is not None:
            seconds = round(time.monotonic() - self.since, 1)
            log.warning("pipeline.storage_returned", seconds=seconds, waits=self.waits)
            self.since = None


def worker_id(node: str, index: int) -> str:
    """Return a worker id unique across processes: node, host, pid, random, index."""
    return f"{node}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}:{index}"


def backoff(attempt: int, options: WorkerOptions, ceiling: float | None = None) -> dt.timedelta:
    """Return the wait before retry number ATTEMPT: doubling, capped, with 20 % jitter."""
    cap = options.backoff_max if ceiling is None else ceiling
    base = min(options.backoff_initial * 2 ** min(max(0, attempt - 1), 32), cap)
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311


OUTAGE = (StorageUnavailableError, StorageFullError)
"""Errors that say the store is away or full, not that the job is wrong: they never park it."""
STORE_STEPS = frozenset({JobStep.UPLOAD, JobStep.VERIFY})
IDLE_CHECK = 0.5
"""Longest wait between two looks of `wait_idle` at the backlog (tests, `--until-idle`)."""


class Worker:
    """One loop claiming jobs and running them to the end."""

    def __init__(
        self,
        queue: JobQueue,
        pipeline: Pipeline,
        ident: str,
        options: WorkerOptions,
        stats: PoolStats,
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.ident = ident
        self.options = options
        self.stats = stats
        self._lease = dt.timedelta(seconds=options.lease)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until STOP is set (the current step is finished first).

        A job claimed when rung is one this process queued: once it is done the worker waits
        for the next ring (kept if it came meanwhile) instead of asking the database again. A
        job found unprompted (at the start, or at the poll) may be one of several left by
        another node or before a restart: the worker rings for a second worker and claims again.
        """
        rung = False
        while not stop.is_set():
            try:
                job = await self.queue.claim(self.ident, self._lease)
            except Exception as exc:  # the database blipped: try again at the next poll
                self.stats.db_errors += 1
                self.stats.database.failed(exc)
                job = None
            else:
                self.stats.database.ok()
            if job is not None:
                if not rung:
                    self.queue.bell.ring()
                await self.work(job, stop)
                if not rung or stop.is_set():
                    continue
            elif stop.is_set():  # set while the claim ran: wake_all came before this wait
                return
            rung = await self.queue.bell.wait(self.options.poll)
            self.stats.wakeups += 1

    async def work(self, job: Job, stop: asyncio.Event) -> None:
        """Run JOB's steps until done, failed, or asked to stop (then hand it back).

        The standard steps' progress is written to the job row at most every `checkpoint`
        seconds, at a failure, and at the end: a short recording's job writes its row once more
        after the claim, not once per step. A worker that dies redoes the steps since the last
        write, which every step is made for (`Pipeline`). A step that must not run twice
        (`Step.saved`, the default for registered steps) has its end written at once.
        """
        held = _Held(job)
        saved = time.monotonic()
        try:
            async with self._heartbeat(held):
                while True:
                    following = await self._step(held)
                    if following is None:
                        return
                    if following == JobStep.DONE or stop.is_set():
                        await self.queue.advance(held.job, following)
                        self.stats.stored += following == JobStep.DONE
                        return
                    due = time.monotonic() - saved >= self.options.checkpoint
                    if not due and not self.pipeline.saved_after(held.job.step):
                        held.job = held.job.then(following)
                        continue
                    held.job = await self.queue.proceed(held.job, following, self._lease)
                    saved = time.monotonic()
        except LeaseLostError:
            log.warning("pipeline.lease_lost", job_id=job.id, step=str(held.job.step))

    async def _step(self, held: _Held) -> str | None:
        job = held.job
        try:
            if held.recording is None:
                held.recording = await self.pipeline.recordings.get(job.recording_id)
            following = await self.pipeline.run(job.step, job.recording_id, held.recording)
        except LeaseLostError:
            raise
        except Exception as exc:
            await self._failed(job, exc)
            return None
        if self.pipeline.changes_state(job.step):
            held.recording = None  # read again by the next step
        step = str(job.step)
        self.stats.steps[step] = self.stats.steps.get(step, 0) + 1
        if job.step in STORE_STEPS:
            self.stats.outage.returned()
        return following

    async def _failed(self, job: Job, exc: Exception) -> None:
        step = str(job.step)
        error = f"{step}: {type(exc).__name__}: {exc}"
        self.stats.failures[step] = self.stats.failures.get(step, 0) + 1
        self.stats.storage_errors += isinstance(exc, StorageError)
        if isinstance(exc, OUTAGE):
            await self._wait_for_store(job, error)
            return
        state = await self.queue.fail(job, error, backoff(job.attempt, self.options))
        if state is JobState.FAILED:
            self.stats.parked += 1
            await self.pipeline.recordings.set_state(job.recording_id, RecordingState.FAILED)
            self.pipeline.discard(job.recording_id)
            log.error(
                "pipeline.parked",
                job_id=job.id,
                recording_id=job.recording_id,
                step=step,
                error=error,
            )
            return
        self.stats.retried += 1
        log.warning("pipeline.retry", job_id=job.id, step=step, attempt=job.attempt, error=error)

    async def _wait_for_store(self, job: Job, error: str) -> None:
        waits = self.stats.outage.unavailable(error)
        self.stats.storage_waits += 1
        delay = backoff(waits, self.options, self.options.outage_backoff_max)
        await self.queue.postpone(job, error, delay)
        log.debug("pipeline.waiting_for_store", job_id=job.id, step=job.step, waits=waits)

    @asynccontextmanager
    async def _heartbeat(self, held: _Held) -> AsyncIterator[None]:
        """Renew the lease of the job HELD every third of a lease while its steps run."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.options.lease / 3)
                with contextlib.suppress(Exception):  # lost: the next write of the job says so
                    await self.queue.extend(held.job, self._lease)

        task = asyncio.create_task(beat(), name=f"lease:{held.job.id}")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@dataclass(slots=True)
class _Held:
    """The job a worker holds as its steps go on, and the recording's row as last read."""

    job: Job
    recording: Recording | None = None


class WorkerPool:
    """Several workers and a lease reaper sharing one pipeline."""

    def __init__(
        self, queue: JobQueue, pipeline: Pipeline, count: int, node: str, options: WorkerOptions
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.options = options
        self.stats = PoolStats()
        self.workers = [
            Worker(queue, pipeline, worker_id(node, i), options, self.stats) for i in range(count)
        ]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Sweep the temporary directory, then start the workers and the reaper."""
        await asyncio.to_thread(self.pipeline.workspace.prepare)
        self._tasks = [asyncio.create_task(w.run(self._stop), name=w.ident) for w in self.workers]
        self._tasks.append(asyncio.create_task(self._reap(), name="pipeline-reaper"))
        log.info("pipeline.started", workers=len(self.workers))

    async def stop(self) -> None:
        """Let running steps finish (up to stop_timeout), stop, and sweep temporary files."""
        self._stop.set()
        self.queue.bell.wake_all()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.options.stop_timeout)
            for task in pending:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.queue.bell.cancel_timers()
        await asyncio.to_thread(self.pipeline.workspace.sweep)
        log.info("pipeline.stopped", stored=self.stats.stored, parked=self.stats.parked)

    async def idle(self) -> bool:
        """Tell whether no job is pending or running (parked ones do not count)."""
        backlog = await self.queue.backlog()
        return not any(backlog.by_state.get(s, 0) for s in (JobState.PENDING, JobState.RUNNING))

    async def wait_idle(self) -> None:
        """Return once no job is pending or running."""
        while not await self.idle():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), min(self.options.poll, IDLE_CHECK))

    async def wait_stopped(self) -> None:
        """Return when the pool is stopped (from elsewhere, or never: until cancelled)."""
        await self._stop.wait()

    async def _reap(self) -> None:
        while not self._stop.is_set():
            try:
                await self.queue.release_expired_leases()
            except Exception as exc:
                self.stats.database.failed(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.5, self.options.lease / 4))


@asynccontextmanager
async def running(
    queue: JobQueue, pipeline: Pipeline, count: int, node: str, options: WorkerOptions
) -> AsyncIterator[WorkerPool]:
    """Run a worker pool for the duration of the block."""
    pool = WorkerPool(queue, pipeline, count, node, options)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()
