"""The pipeline on SQLite and PostgreSQL: two daemons share the queue, and a stale lease loses.

PostgreSQL runs on 127.0.0.1:5432 (trust auth); each test gets a fresh database, dropped
afterwards, as in tests/integration/db/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from zentrale.db.session import Database
from zentrale.recording import audio
from zentrale.recording.errors import LeaseLostError
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import JobStep, RecordingState
from zentrale.recording.pipeline import Pipeline, PipelineConfig
from zentrale.recording.sources import DirectorySource
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions, running
from zentrale.recording.workspace import Workspace
from zentrale.testing.databases import fresh_database, migrated_database
from zentrale.testing.pipeline_steps import PROBE
from zentrale.testing.recordings import decrypt, queue_recordings, write_wav

FAST = WorkerOptions(lease=5, poll=0.05, backoff_initial=0.05, backoff_max=0.2)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    with fresh_database(backend, tmp_path, prefix="zentrale_pipe") as url:
        async with migrated_database(url) as database:
            yield database


def daemon_pipeline(db: Database, tmp: Path, node: str, keyring: Keyring) -> Pipeline:
    """One daemon's pipeline: its own temp directory; the spool and the store are shared."""
    return Pipeline(
        RecordingStore(db),
        DirectorySource(tmp / "spool"),
        LocalStore(tmp / "objects"),
        [LocalKeyProvider(keyring)],
        Workspace(tmp / f"tmp-{node}"),
        PipelineConfig(audio.FORMATS["opus"], "local"),
    )


@pytest.mark.asyncio
async def test_two_daemons_share_the_queue_and_store_each_once(
    db: Database, tmp_path: Path
) -> None:
    (tmp_path / "spool").mkdir()
    names = [f"c-{i}" for i in range(12)]
    for name in names:
        write_wav(tmp_path / "spool" / f"{name}.wav", 1.0)
    queued = await queue_recordings(db, names)
    keyring = Keyring.generate()
    one, two = (daemon_pipeline(db, tmp_path, node, keyring) for node in ("n1", "n2"))
    queue = JobQueue(db)
    async with running(queue, one, 2, "n1", FAST) as first, running(queue, two, 2, "n2", FAST):
        await first.wait_idle()
    store = LocalStore(tmp_path / "objects")
    rows = [await RecordingStore(db).get(q.recording_id) for q in queued]
    assert {row.state for row in rows} == {RecordingState.STORED}
    assert sorted(store.list()) == sorted(str(row.object_key) for row in rows)
    for row in rows:
        assert decrypt(store, row, [LocalKeyProvider(keyring)]).startswith(b"OggS")


@pytest.mark.asyncio
async def test_a_stale_worker_cannot_proceed_after_its_lease_was_taken(db: Database) -> None:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    clock = [now]
    queue = JobQueue(db, clock=lambda: clock[0])
    (queued,) = await queue_recordings(db, ["c-1"])
    stale = await queue.claim("w1", dt.timedelta(seconds=10))
    assert stale is not None
    clock[0] = now + dt.timedelta(seconds=11)
    assert await queue.release_expired_leases() == 1
    fresh = await queue.claim("w2", dt.timedelta(seconds=10))
    assert fresh is not None
    assert fresh.id == queued.job_id
    with pytest.raises(LeaseLostError):
        await queue.proceed(stale, JobStep.TRANSCODE, dt.timedelta(seconds=10))
    moved = await queue.proceed(fresh, JobStep.TRANSCODE, dt.timedelta(seconds=10))
    assert (moved.step, moved.attempts) == (JobStep.TRANSCODE, 1)
    row = await queue.get(queued.job_id)
    assert row is not None
    assert (row.step, row.locked_by) == (JobStep.TRANSCODE, "w2")


@pytest.mark.asyncio
async def test_a_registered_steps_name_is_kept_in_the_job_row(db: Database) -> None:
    queue = JobQueue(db)
    (queued,) = await queue_recordings(db, ["c-1"])
    job = await queue.claim("w1", dt.timedelta(seconds=10))
    assert job is not None
    await queue.advance(job, PROBE)  # a plug-in step's name, not a `JobStep`: no migration
    resumed = await queue.claim("w2", dt.timedelta(seconds=10))
    assert resumed is not None
    assert (resumed.id, resumed.step) == (queued.job_id, PROBE)
    row = await queue.get(queued.job_id)
    assert row is not None
    assert row.step == PROBE
