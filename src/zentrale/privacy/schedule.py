"""The daemon's scheduled purge: a background task that runs the retention purge every interval.

The schedule asks its clock (injectable, so tests move time by hand) whether the next run is
due, checking every `tick` seconds; the first run is at start-up. A failed run is logged and
retried at the next interval; the rules file is read again for every run, so edits apply
without a restart, and a bad file skips the run with the problems in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import structlog

from zentrale.base.clock import Clock, utcnow
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.privacy.purge import PurgeReport, purger_for
from zentrale.privacy.rules import InvalidRetentionRulesError, RetentionRules, load_retention
from zentrale.recording.storage.base import ObjectStore

log = structlog.get_logger(__name__)

MAX_TICK = 1.0  # reading the clock once a second costs nothing


class PurgeSchedule:
    """Runs `job` at start and then whenever `interval` seconds have passed on `clock`."""

    def __init__(
        self,
        job: Callable[[], Awaitable[PurgeReport | None]],
        interval: float,
        clock: Clock = utcnow,
        tick: float | None = None,
    ) -> None:
        self._job = job
        self.interval = dt.timedelta(seconds=interval)
        self._clock = clock
        self.tick = tick if tick is not None else min(MAX_TICK, interval / 10)
        self.runs = 0
        self.last: PurgeReport | None = None
        self._ran = asyncio.Condition()

    async def run_forever(self) -> None:
        """Run the job whenever it is due, until cancelled."""
        due = self._clock()
        while True:
            if self._clock() >= due:
                await self._run_once()
                due = self._clock() + self.interval
            await asyncio.sleep(self.tick)

    async def _run_once(self) -> None:
        try:
            self.last = await self._job()
        except Exception:  # the next interval retries; the daemon keeps serving calls
            log.exception("privacy.purge_failed")
        async with self._ran:
            self.runs += 1
            self._ran.notify_all()

    async def wait_runs(self, count: int) -> None:
        """Return once the job has run COUNT times in all."""
        async with self._ran:
            await self._ran.wait_for(lambda: self.runs >= count)


def purge_job(
    settings: Settings, db: Database, store: ObjectStore, clock: Clock = utcnow
) -> Callable[[], Awaitable[PurgeReport | None]]:
    """Return the daemon's purge: read the rules file, purge what is due at the clock's now."""
    path = settings.retention.file
    purger = purger_for(settings, db, store)

    async def job() -> PurgeReport | None:
        rules = await asyncio.to_thread(_rules, path)
        if rules is None:
            return None
        report = await purger.run(rules, clock(), dry_run=False)
        for item in report.failed:
            log.error(
                "privacy.purge_item_failed", item=item.id, kind=item.kind.value, note=item.note
            )
        return report

    return job


def _rules(path: Path) -> RetentionRules | None:
    if not path.is_file():
        log.warning(
            "privacy.no_retention_rules",
            file=str(path),
            note="nothing is purged until the file exists",
        )
        return None
    try:
        return load_retention(path)
    except InvalidRetentionRulesError as exc:
        log.error("privacy.retention_rules_invalid", problems=exc.problems)
        return None


@contextlib.asynccontextmanager
async def purge_running(
    settings: Settings, db: Database, store: ObjectStore, clock: Clock = utcnow
) -> AsyncIterator[PurgeSchedule]:
    """Run the scheduled purge in the background for the duration of the block."""
    schedule = PurgeSchedule(
        purge_job(settings, db, store, clock), settings.retention.interval, clock
    )
    task = asyncio.create_task(schedule.run_forever(), name="retention-purge")
    try:
        yield schedule
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
