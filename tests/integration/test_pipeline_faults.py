"""Pipeline faults: a worker killed (-9) after every step, S3 down, a full temp disk.

The worker runs in a subprocess started here, on a prepared SQLite database with a directory
source (Asterisk's spool layout), local storage and a local keyring. The crashing worker is
`python -m zentrale.testing.pipeline_worker --crash-after STEP`: the settings' steps with that
one wrapped to SIGKILL the process once its work is done, before the queue records it. The
restarted worker (`zentrale recordings work`) must finish every recording exactly once. With
`--probe` both runs also have a test step registered after `transcode`, which must resume too.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.config.settings import (
    DatabaseSettings,
    KeySettings,
    RecipientSettings,
    RecordingSettings,
    S3StorageSettings,
    Settings,
    StorageSettings,
)
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import JobState, JobStep, RecordingState
from zentrale.recording.setup import object_store, pipeline_running
from zentrale.recording.sources import DirectorySource
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions
from zentrale.testing.moto import MotoServer, restart_moto_server, start_moto_server
from zentrale.testing.moto import stop_moto_server as stop_moto
from zentrale.testing.pipeline_steps import PROBE
from zentrale.testing.recordings import (
    decrypt,
    plaintext_audio,
    queue_recordings,
    write_settings,
    write_wav,
    zentrale_command,
)

STEPS = [
    JobStep.FETCH,
    JobStep.TRANSCODE,
    JobStep.TALK,
    JobStep.ENCRYPT,
    JobStep.UPLOAD,
    JobStep.VERIFY,
    JobStep.COMMIT,
    JobStep.DELETE_SOURCE,
    JobStep.CLEANUP,
]
FAST = WorkerOptions(
    lease=2, poll=0.05, backoff_initial=0.05, backoff_max=0.3, outage_backoff_max=0.3
)
NAMES = ["call-a-1", "call-a-2", "call-a-3"]


@dataclass
class Setup:
    tmp: Path
    db: Database
    settings: Settings

    @property
    def spool(self) -> Path:
        return self.tmp / "spool"

    @property
    def temp(self) -> Path:
        return self.settings.recording.temp_dir

    def keys(self) -> list[LocalKeyProvider]:
        return [LocalKeyProvider(Keyring.load(self.tmp / "keyring.json"))]

    async def rows(self, ids: list[str]) -> list:  # type: ignore[type-arg]
        store = RecordingStore(self.db)
        return [await store.get(rid) for rid in ids]

    @property
    def probed(self) -> Path:
        return self.tmp / "probed"

    def config(self) -> Path:
        return write_settings(self.tmp / "zentrale.yaml", dumped(self.settings))

    def test_side_work(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        module, config = "zentrale.testing.pipeline_worker", str(self.config())
        source = ("--source-dir", str(self.spool))
        return run([sys.executable, "-m", module, "--config", config, *source, *args])

    def work(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = zentrale_command(
            self.config(),
            "recordings",
            "work",
            "--source-dir",
            str(self.spool),
            "--until-idle",
            "--lease",
            "1",
            "--backoff",
            "0.05",
            *args,
        )
        return run(command)


def run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def entries(path: Path) -> list[Path]:
    return list(path.iterdir())


def fill(path: Path) -> None:
    with path.open("wb") as file:
        while True:
            file.write(bytes(64 * 1024))
            file.flush()


def dumped(settings: Settings) -> dict:  # type: ignore[type-arg]
    data = settings.model_dump(mode="json")
    data["database"]["url"] = settings.database.url.get_secret_value()  # dumped as stars
    return data


def settings_for(tmp: Path, storage: StorageSettings | None = None) -> Settings:
    return Settings(
        state_dir=tmp,
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp}/z.db"),  # type: ignore[arg-type]
        recording=RecordingSettings(temp_dir=tmp / "tmp", workers=1, max_attempts=40),
        storage=storage or StorageSettings(path=tmp / "objects"),
        keys=KeySettings(
            recipients=(RecipientSettings(provider="local", keyring_file=tmp / "keyring.json"),)
        ),
    )


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    settings = settings_for(tmp_path)
    db = Database.open(settings.database.url.get_secret_value())
    await upgrade_engine(db.engine)
    (tmp_path / "spool").mkdir()
    try:
        yield Setup(tmp_path, db, settings)
    finally:
        await db.close()


async def queue(setup: Setup, names: list[str] = NAMES, seconds: float = 2.0) -> list[str]:
    for name in names:
        write_wav(setup.spool / f"{name}.wav", seconds)
    return [q.recording_id for q in await queue_recordings(setup.db, names)]


async def assert_each_stored_once(setup: Setup, ids: list[str]) -> None:
    rows = await setup.rows(ids)
    assert {row.state for row in rows} == {RecordingState.STORED}
    store = LocalStore(setup.settings.storage.path)
    assert sorted(store.list()) == sorted(row.object_key for row in rows)
    for row in rows:
        assert decrypt(store, row, setup.keys()).startswith(b"OggS")
    assert entries(setup.spool) == []
    assert entries(setup.temp) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("step", STEPS)
async def test_killed_after_a_step_then_restarted_stores_each_once(
    setup: Setup, step: JobStep
) -> None:
    ids = await queue(setup)
    crashed = setup.test_side_work("--crash-after", step.value)
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    rows = await setup.rows(ids)
    assert (
        RecordingState.STORED not in {r.state for r in rows}
        or step in STEPS[STEPS.index(JobStep.COMMIT) :]
    )
    restarted = setup.work()
    assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]
    await assert_each_stored_once(setup, ids)


@pytest.mark.asyncio
@pytest.mark.parametrize("step", [JobStep.TRANSCODE, PROBE, JobStep.ENCRYPT])
async def test_a_registered_step_resumes_after_a_kill_and_runs_once_per_recording(
    setup: Setup, step: str
) -> None:
    ids = await queue(setup)
    setup.probed.mkdir()
    probe = ("--probe", str(setup.probed))
    crashed = setup.test_side_work("--crash-after", step, *probe)
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    restarted = setup.test_side_work(*probe)
    assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]
    await assert_each_stored_once(setup, ids)
    runs = (setup.probed / "runs").read_text().split()
    assert sorted(set(runs)) == sorted(ids)
    killed_in_probe = [rid for rid in ids if runs.count(rid) > 1]
    assert len(killed_in_probe) == (step == PROBE)  # its work is redone, not recorded twice
    for rid in ids:
        (figures,) = json.loads((setup.probed / f"{rid}.json").read_text())
        assert figures["duration_s"] == pytest.approx(2.0)
        assert figures["peak"] > 0


@pytest.mark.asyncio
async def test_status_command_shows_parked_jobs(setup: Setup) -> None:
    settings = setup.settings.model_copy(
        update={"recording": setup.settings.recording.model_copy(update={"max_attempts": 1})}
    )
    config = write_settings(setup.tmp / "status.yaml", dumped(settings))
    (queued,) = await queue_recordings(setup.db, ["no-such-file"])
    worked = run(
        zentrale_command(
            config,
            "recordings",
            "work",
            "--source-dir",
            str(setup.spool),
            "--until-idle",
            "--lease",
            "1",
        )
    )
    assert worked.returncode == 0, worked.stderr.decode()[-2000:]
    status = run(zentrale_command(config, "recordings", "status", "--parked"))
    assert status.returncode == 0
    text = status.stdout.decode()
    assert "failed: 1" in text
    assert f"parked {queued.job_id}" in text
    assert "SourceMissing" in text


@pytest.mark.asyncio
async def test_requeue_command_puts_parked_jobs_back_and_audits_it(setup: Setup) -> None:
    settings = setup.settings.model_copy(
        update={"recording": setup.settings.recording.model_copy(update={"max_attempts": 1})}
    )
    config = write_settings(setup.tmp / "requeue.yaml", dumped(settings))
    queued = await queue_recordings(setup.db, ["gone-1", "gone-2"])
    work = ["recordings", "work", "--source-dir", str(setup.spool), "--until-idle"]
    worked = run(zentrale_command(config, *work, "--lease", "1"))
    assert worked.returncode == 0, worked.stderr.decode()[-2000:]
    assert (await JobQueue(setup.db).backlog()).parked == 2

    one = run(zentrale_command(config, "recordings", "requeue", queued[0].job_id))
    assert one.returncode == 0, one.stderr.decode()
    assert f"requeued {queued[0].job_id}" in one.stdout.decode()
    job = await JobQueue(setup.db).get(queued[0].job_id)
    assert job is not None
    assert job.state == JobState.PENDING
    assert job.attempts == 0
    (recording,) = await setup.rows([queued[0].recording_id])
    assert recording.state == RecordingState.FINISHED  # waiting for the pipeline again

    again = run(zentrale_command(config, "recordings", "requeue", queued[0].job_id))
    assert again.returncode == 1  # not parked any more
    everything = run(zentrale_command(config, "recordings", "requeue", "--all-parked"))
    assert everything.returncode == 0, everything.stderr.decode()
    assert "requeued 1" in everything.stdout.decode()
    assert (await JobQueue(setup.db).backlog()).parked == 0

    async with setup.db.read() as session:
        entries_ = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    requeues = [e for e in entries_ if e.action == "recording_job.requeue"]
    assert sorted(e.target for e in requeues) == sorted(q.job_id for q in queued)


# -- S3 down for a while -----------------------------------------------------------------------
@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = start_moto_server()
    yield server
    stop_moto(server)


def create_bucket(server: MotoServer) -> None:
    client = make_client("s3", ClientSettings(endpoint_url=server.endpoint_url, max_attempts=1))
    try:
        client.create_bucket(Bucket="recordings")
    finally:
        client.close()


async def wait_for_retries(db: Database, job_id: str, error: str) -> None:
    async with asyncio.timeout(60):
        while True:
            job = await JobQueue(db).get(job_id)
            assert job is not None
            if job.last_error and error in job.last_error and job.attempts >= 2:
                assert job.state in (JobState.PENDING, JobState.RUNNING)  # waiting, not parked
                return
            await asyncio.sleep(0.1)


@pytest.mark.s3
@pytest.mark.asyncio
async def test_s3_outage_jobs_wait_and_finish_after_it_returns(
    tmp_path: Path, moto: MotoServer
) -> None:
    s3 = S3StorageSettings(bucket="recordings", prefix="z/", endpoint_url=moto.endpoint_url)
    settings = settings_for(tmp_path, StorageSettings(kind="s3", s3=s3))
    setup = Setup(tmp_path, Database.open(settings.database.url.get_secret_value()), settings)
    await upgrade_engine(setup.db.engine)
    setup.spool.mkdir()
    try:
        stop_moto(moto)
        ids = await queue(setup, NAMES[:2])
        jobs = await JobQueue(setup.db).backlog()
        assert jobs.due == 2
        async with pipeline_running(settings, setup.db, DirectorySource(setup.spool), FAST) as pool:
            first = (await RecordingStore(setup.db).get(ids[0])).id
            job_id = await _job_of(setup.db, first)
            await _until(lambda: pool.stats.storage_waits >= 4, 60)  # waiting, not counted
            job = await JobQueue(setup.db).get(job_id)
            assert job is not None
            assert "StorageUnavailable" in (job.last_error or "")
            assert job.state in (JobState.PENDING, JobState.RUNNING)
            assert plaintext_audio([setup.temp]) == []  # nothing in the clear while waiting
            restart_moto_server(moto)
            create_bucket(moto)
            await pool.wait_idle()
        rows = await setup.rows(ids)
        assert {row.state for row in rows} == {RecordingState.STORED}
        assert {row.storage_backend for row in rows} == {"s3"}
        with object_store(settings) as store:
            assert sorted(store.list()) == sorted(row.object_key for row in rows)
            for row in rows:
                assert decrypt(store, row, setup.keys()).startswith(b"OggS")
    finally:
        await setup.db.close()


async def _job_of(db: Database, recording_id: str) -> str:
    from sqlalchemy import select

    from zentrale.recording.models import RecordingJob

    async with db.read() as session:
        job = await session.scalar(
            select(RecordingJob.id).where(RecordingJob.recording_id == recording_id)
        )
    assert job is not None
    return str(job)


async def _until(check: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - a counter of another task, no event to wait on
            await asyncio.sleep(0.1)


# -- temp directory full ---------------------------------------------------------------------
@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmp"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.asyncio
async def test_full_temp_directory_retries_then_finishes(setup: Setup, small_tmpfs: Path) -> None:
    assert setup.temp == small_tmpfs
    async with pipeline_running(setup.settings, setup.db, DirectorySource(setup.spool), FAST) as (
        pool
    ):
        filler = small_tmpfs / "filler"
        with pytest.raises(OSError, match="No space"):
            fill(filler)
        (rid,) = await queue(setup, NAMES[:1], seconds=5)
        await wait_for_retries(setup.db, await _job_of(setup.db, rid), "No space left")
        assert plaintext_audio([small_tmpfs]) == []  # partial files were removed
        filler.unlink()
        await pool.wait_idle()
    (row,) = await setup.rows([rid])
    assert row.state == RecordingState.STORED
    assert entries(small_tmpfs) == []


@pytest.mark.s3
@pytest.mark.asyncio
async def test_s3_down_ten_minutes_parks_nothing_and_stores_each_once(
    tmp_path: Path, moto: MotoServer
) -> None:
    """An outage far longer than the attempts allowed: jobs wait for the store, never park.

    Ten minutes at the default timing (waits of 2, 4, 8, 16 s, then 30 s each) is about 25
    waits per job; here the waits are 100 times shorter and only 3 attempts are allowed, and
    S3 stays away until every job has waited at least 25 times.
    """
    s3 = S3StorageSettings(bucket="recordings", prefix="z/", endpoint_url=moto.endpoint_url)
    settings = settings_for(tmp_path, StorageSettings(kind="s3", s3=s3))
    settings = settings.model_copy(
        update={"recording": settings.recording.model_copy(update={"max_attempts": 3})}
    )
    options = WorkerOptions(
        lease=2, poll=0.05, backoff_initial=0.02, backoff_max=0.3, outage_backoff_max=0.3
    )
    setup = Setup(tmp_path, Database.open(settings.database.url.get_secret_value()), settings)
    await upgrade_engine(setup.db.engine)
    setup.spool.mkdir()
    try:
        stop_moto(moto)
        ids = await queue(setup)
        async with pipeline_running(settings, setup.db, DirectorySource(setup.spool), options) as (
            pool
        ):
            await _until(lambda: pool.stats.storage_waits >= 25 * len(ids), 120)
            backlog = await JobQueue(setup.db).backlog()
            assert backlog.parked == 0
            assert pool.stats.outage.away
            restart_moto_server(moto)
            create_bucket(moto)
            async with asyncio.timeout(60):
                await pool.wait_idle()
            assert pool.stats.parked == 0
            assert not pool.stats.outage.away
        rows = await setup.rows(ids)
        assert {row.state for row in rows} == {RecordingState.STORED}
        with object_store(settings) as store:
            assert sorted(store.list()) == sorted(row.object_key for row in rows)  # once each
        assert (await JobQueue(setup.db).backlog()).parked == 0
    finally:
        await setup.db.close()
