"""Wire health, readiness and metrics into a running daemon (called from `zentrale.daemon`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter
from pydantic import SecretStr

from zentrale.api.routes_ops import ops_router
from zentrale.base.secrets import kept_secret
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.ops.journal import CountingJournal
from zentrale.ops.metrics import BacklogCache, Metrics, Snapshot
from zentrale.ops.readiness import MIB, Disk, Readiness
from zentrale.recording.worker import WorkerPool
from zentrale.routing.reload import RulesReloader
from zentrale.telephony.ari import AriClient
from zentrale.telephony.callcenter import CallCenter


@dataclass
class Ops:
    """The daemon's metrics and readiness, and the router serving them."""

    metrics: Metrics
    readiness: Readiness
    backlog: BacklogCache | None
    router: APIRouter


def metrics_token(settings: Settings) -> str:
    """Return the bearer token /metrics wants (made once and kept if not configured)."""
    token = kept_secret(settings.state_dir, "metrics-token", settings.ops.metrics_token)
    return token.get_secret_value()


@asynccontextmanager
async def operations(
    settings: Settings,
    db: Database,
    ari: AriClient,
    rules: RulesReloader,
    center: CallCenter,
    journal: CountingJournal,
    pool: WorkerPool | None,
) -> AsyncIterator[Ops]:
    """Hook the metrics into ARI and the pipeline, refresh the backlog, build the router."""
    metrics = journal.metrics
    ari.dispatcher.lag_observers.append(metrics.observe_lag)
    backlog = None
    if pool is not None:
        pool.pipeline.on_stored.append(metrics.recording_stored)
        backlog = BacklogCache(pool.queue, settings.ops.check_interval, metrics.errors)
    metrics.watch(
        _snapshot(
            settings=settings,
            ari=ari,
            rules=rules,
            center=center,
            journal=journal,
            pool=pool,
            backlog=backlog,
        )
    )
    readiness = Readiness(
        ari=lambda: ari.state,
        db=db,
        store=pool.pipeline.store if pool is not None else None,
        rules_version=lambda: _version(rules),
        accepting=lambda: center.accepting,
        node=settings.node,
        interval=settings.ops.check_interval,
        errors=metrics.errors,
        disks=_disks(settings) if pool is not None else (),
    )
    router = ops_router(settings.node, readiness, metrics, SecretStr(metrics_token(settings)))
    stop = asyncio.Event()
    task = asyncio.create_task(backlog.run(stop), name="metrics-backlog") if backlog else None
    try:
        yield Ops(metrics=metrics, readiness=readiness, backlog=backlog, router=router)
    finally:
        stop.set()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _version(rules: RulesReloader) -> str | None:
    try:
        return rules.current.version
    except RuntimeError:
        return None


def _snapshot(
    settings: Settings,
    ari: AriClient,
    rules: RulesReloader,
    center: CallCenter,
    journal: CountingJournal,
    pool: WorkerPool | None,
    backlog: BacklogCache | None,
) -> Snapshot:
    queues = center.services.queues
    stats = pool.stats if pool is not None else None

    def waiting() -> dict[str, int]:
        departments = rules.current.document.departments
        return {name: len(queues.waiting(name)) for name in departments}

    return Snapshot(
        active_calls=lambda: journal.active,
        waiting=waiting,
        agents=queues.board.snapshot,
        ari_connected=lambda: ari.state.connected,
        ari_reconnects=lambda: ari.state.reconnects,
        queue_depth=lambda: ari.dispatcher.stats().queue_depth,
        rules_version=lambda: _version(rules),
        reload_errors=lambda: rules.refused,
        pipeline_failures=lambda: dict(stats.failures) if stats else {},
        storage_errors=lambda: stats.storage_errors if stats else 0,
        db_errors=lambda: journal.failures + (stats.db_errors if stats else 0),
        backlog=lambda: backlog.latest if backlog else None,
        journal_backlog=lambda: journal.backlog,
        storage_backend=settings.storage.kind,
        ari_rest_transport=lambda: ari.rest_transport,
        ari_traffic=lambda: (ari.traffic.calls, ari.traffic.requests, ari.traffic.events),
    )


def _disks(settings: Settings) -> list[Disk]:
    """Return the pipeline's own directories readiness watches: temp, and a local store."""
    need = settings.recording.min_free_mb * MIB
    disks = [Disk("temp", settings.recording.temp_dir, need)]
    if settings.storage.kind == "local":
        disks.append(Disk("store", settings.storage.path, need))
    return disks
