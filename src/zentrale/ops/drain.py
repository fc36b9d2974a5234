"""Draining a node: no new calls, calls in progress end, their recordings reach the store.

Within one time limit: first the calls in progress finish (new callers already go to the
dialplan fallback), then the journal writes what they left, then the pipeline works on until no
recording job of this node's calls is pending or running. Whatever is left when the limit runs
out stays in the shared queue for the next start or another node's workers; the workers
themselves stop only between steps (`WorkerPool.stop`), so every job is at a safe point.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from sqlalchemy import func, select

from zentrale.calls.models import Call
from zentrale.db.session import Database
from zentrale.recording.models import JobState, Recording, RecordingJob
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.journal import Journal

log = structlog.get_logger(__name__)

POLL = 0.5


async def drain(
    center: CallCenter, journal: Journal, db: Database, node: str | None, limit: float
) -> None:
    """Drain calls, then (NODE given) this node's recording jobs, within LIMIT seconds."""
    deadline = time.monotonic() + limit
    await center.drain(limit)
    log.info("service.calls_drained", still_active=len(center.active))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            await journal.flush()
            if node is not None:
                await _jobs_done(db, node)
    left = await _unfinished(db, node) if node is not None else 0
    log.info("service.drained", recording_jobs_left=left)


async def _jobs_done(db: Database, node: str) -> None:
    while True:
        if not await _unfinished(db, node):
            return
        await asyncio.sleep(POLL)


async def _unfinished(db: Database, node: str) -> int:
    """Return how many recording jobs of NODE's calls are pending or running."""
    query = (
        select(func.count())
        .select_from(RecordingJob)
        .join(Recording, Recording.id == RecordingJob.recording_id)
        .join(Call, Call.id == Recording.call_id)
        .where(
            Call.asterisk_node == node,
            RecordingJob.state.in_([JobState.PENDING, JobState.RUNNING]),
        )
    )
    try:
        async with db.read() as session:
            return int(await session.scalar(query) or 0)
    except Exception as exc:  # the database is away: nothing more to wait for here
        log.warning("service.drain_db_failed", error=type(exc).__name__)
        return 0
