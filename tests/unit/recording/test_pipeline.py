"""The pipeline on a SQLite file, a directory source and local storage: steps, reruns, failures."""

from __future__ import annotations

import datetime as dt
import stat
import wave
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import event, select

from zentrale.config.settings import RecipientSettings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording import audio
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import (
    JobState,
    JobStep,
    Recording,
    RecordingJob,
    RecordingState,
)
from zentrale.recording.pipeline import Pipeline, PipelineConfig, StepOrderError, UnknownStepError
from zentrale.recording.setup import local_keyring
from zentrale.recording.sources import DirectorySource
from zentrale.recording.steps import STANDARD, inserted
from zentrale.recording.steps.base import Step, Tools
from zentrale.recording.steps.products import COMMITTED
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions, running
from zentrale.recording.workspace import Workspace
from zentrale.testing.pipeline_steps import PROBE, Figures, observed, probe
from zentrale.testing.recordings import (
    decrypt,
    plaintext_audio,
    queue_recordings,
    tone_wav,
    write_wav,
)

FAST = WorkerOptions(lease=5, poll=0.05, backoff_initial=0.01, backoff_max=0.02)
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


@dataclass
class Env:
    db: Database
    tmp: Path
    source_dir: Path
    temp: Path
    store: LocalStore
    keyring: Keyring

    def pipeline(
        self, fmt: str = "opus", delete_source: bool = True, steps: Sequence[Step] = STANDARD
    ) -> Pipeline:
        config = PipelineConfig(audio.FORMATS[fmt], "local", delete_source)
        return Pipeline(
            recordings=RecordingStore(self.db),
            source=DirectorySource(self.source_dir),
            store=self.store,
            recipients=[LocalKeyProvider(self.keyring)],
            workspace=Workspace(self.temp),
            config=config,
            steps=steps,
        )

    def spool(self, names: Sequence[str], seconds: float = 1.0) -> list[str]:
        """Write a WAV of SECONDS for each Asterisk name into the source directory."""
        for name in names:
            write_wav(self.source_dir / f"{name}.wav", seconds)
        return list(names)

    def queue(self, max_attempts: int = 3) -> JobQueue:
        return JobQueue(self.db, max_attempts=max_attempts)

    async def run_all(
        self, pipeline: Pipeline, max_attempts: int = 3, options: WorkerOptions = FAST
    ) -> None:
        async with running(self.queue(max_attempts), pipeline, 2, "test", options) as pool:
            await pool.wait_idle()

    async def row(self, recording_id: str) -> Recording:
        return await RecordingStore(self.db).get(recording_id)


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    await upgrade_engine(db.engine)
    source_dir = tmp_path / "spool"
    source_dir.mkdir()
    try:
        yield Env(
            db,
            tmp_path,
            source_dir,
            tmp_path / "tmp",
            LocalStore(tmp_path / "objects"),
            Keyring.generate(),
        )
    finally:
        await db.close()


async def decrypted(env: Env, recording_id: str) -> bytes:
    row = await env.row(recording_id)
    return decrypt(env.store, row, [LocalKeyProvider(env.keyring)])


def decoded(data: bytes, suffix: str) -> audio.AudioSegment:
    path = Path(f"/dev/shm/zentrale-test-{id(data)}.{suffix}")
    path.write_bytes(data)
    try:
        return audio.decode(path)
    finally:
        path.unlink()


@pytest.mark.asyncio
async def test_recording_is_stored_encrypted_and_decrypts(env: Env) -> None:
    write_wav(env.source_dir / "c1-1.wav", 3.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    await env.run_all(env.pipeline())
    row = await env.row(queued.recording_id)
    assert (row.state, row.format, row.corrupt, row.silent) == (
        RecordingState.STORED,
        "opus",
        False,
        False,
    )
    assert row.duration_s == pytest.approx(3.0, abs=0.02)
    assert row.waveform is not None
    assert len(row.waveform) == 30
    plain = await decrypted(env, queued.recording_id)
    assert plain.startswith(b"OggS")
    assert row.plaintext_size == len(plain)
    assert decoded(plain, "opus").duration_seconds == pytest.approx(3.0, abs=0.1)
    assert list(env.store.list()) == [row.object_key]
    assert not (env.source_dir / "c1-1.wav").exists()  # Asterisk's copy deleted after storing
    assert list(env.temp.iterdir()) == []
    assert plaintext_audio([env.temp, env.store.root]) == []


@pytest.mark.asyncio
async def test_temp_directory_is_private(env: Env) -> None:
    env.temp.mkdir(mode=0o755)
    (env.temp / "left-over").write_bytes(b"RIFF old plaintext")
    await env.run_all(env.pipeline())
    assert stat.S_IMODE(env.temp.stat().st_mode) == 0o700
    assert not (env.temp / "left-over").exists()  # swept at start-up


@pytest.mark.parametrize(("fmt", "magic"), [("wav", b"RIFF"), ("mp3", b"ID3")])
@pytest.mark.asyncio
async def test_other_formats(env: Env, fmt: str, magic: bytes) -> None:
    write_wav(env.source_dir / "c1-1.wav", 2.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    await env.run_all(env.pipeline(fmt))
    row = await env.row(queued.recording_id)
    assert row.format == fmt
    assert (await decrypted(env, queued.recording_id)).startswith(magic)


@pytest.mark.asyncio
async def test_silence_is_flagged(env: Env) -> None:
    write_wav(env.source_dir / "c1-1.wav", 4.0, amplitude=0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    await env.run_all(env.pipeline())
    row = await env.row(queued.recording_id)
    assert (row.state, row.silent) == (RecordingState.STORED, True)


@pytest.mark.asyncio
async def test_corrupt_audio_is_stored_as_received_and_flagged(env: Env) -> None:
    received = b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 40
    (env.source_dir / "c1-1.wav").write_bytes(received)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    await env.run_all(env.pipeline())
    row = await env.row(queued.recording_id)
    assert (row.state, row.corrupt, row.format) == (RecordingState.STORED, True, "received")
    assert await decrypted(env, queued.recording_id) == received
    assert list(env.temp.iterdir()) == []


@pytest.mark.asyncio
async def test_two_party_sources_are_merged_customer_left(env: Env) -> None:
    write_wav(env.source_dir / "c1-1-caller.wav", 3.0)
    write_wav(env.source_dir / "c1-1-agent.wav", 3.0, amplitude=0)
    (queued,) = await queue_recordings(env.db, ["c1-1-caller+c1-1-agent"])
    await env.run_all(env.pipeline())
    segment = decoded(await decrypted(env, queued.recording_id), "opus")
    left, right = audio.channel_rms(segment)
    assert segment.channels == 2
    assert left > 20 * max(right, 1.0)
    assert not any(env.source_dir.iterdir())  # both sources deleted


def write_turns(path: Path, turns: Sequence[tuple[float, float]], seconds: float) -> None:
    """Write a WAV of SECONDS with a tone during each (start, end) turn, silence between."""
    frames = bytearray(tone_wav(seconds)[44:])
    silent = bytearray(len(frames))
    for start, end in turns:
        a, b = int(start * 8000) * 2, int(end * 8000) * 2
        silent[a:b] = frames[a:b]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(silent))


@pytest.mark.asyncio
async def test_the_talk_step_keeps_who_spoke_when_from_the_two_channels(env: Env) -> None:
    write_turns(env.source_dir / "c1-1-caller.wav", [(0.5, 1.5), (6.0, 7.0)], 8.0)
    write_turns(env.source_dir / "c1-1-agent.wav", [(1.2, 3.0)], 8.0)
    (queued,) = await queue_recordings(env.db, ["c1-1-caller+c1-1-agent"])
    await env.run_all(env.pipeline())
    row = await env.row(queued.recording_id)
    assert row.state is RecordingState.STORED
    assert row.talk_customer_s == pytest.approx(2.0, abs=0.04)
    assert row.talk_agent_s == pytest.approx(1.8, abs=0.04)
    assert row.agent_talk_ratio == pytest.approx(1.8 / 3.8, abs=0.01)
    assert row.overtalk_count == 1  # the agent starts at 1.2 s, the customer stops at 1.5 s
    assert row.overtalk_s == pytest.approx(0.3, abs=0.04)
    assert row.longest_dead_air_s == pytest.approx(3.0, abs=0.04)  # 3.0 to 6.0
    assert row.talk_segments is not None
    assert [s[0] for s in row.talk_segments["segments"]] == ["customer", "agent", "customer"]


@pytest.mark.parametrize("restart_before", STEPS[1:])
@pytest.mark.asyncio
async def test_restart_before_any_step_stores_exactly_once(
    env: Env, restart_before: JobStep
) -> None:
    write_wav(env.source_dir / "c1-1.wav", 2.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    pipeline = env.pipeline()
    for step in STEPS[: STEPS.index(restart_before)]:
        await pipeline.run(step, queued.recording_id)
    pipeline.workspace.prepare()  # a restart sweeps the temporary directory
    for step in STEPS[STEPS.index(restart_before) :]:
        await pipeline.run(step, queued.recording_id)
    row = await env.row(queued.recording_id)
    assert row.state == RecordingState.STORED
    assert list(env.store.list()) == [row.object_key]
    assert decoded(await decrypted(env, queued.recording_id), "opus").duration_seconds > 1.9


@pytest.mark.asyncio
async def test_every_step_can_run_twice(env: Env) -> None:
    write_wav(env.source_dir / "c1-1.wav", 2.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    pipeline = env.pipeline()
    for step in STEPS:
        await pipeline.run(step, queued.recording_id)
        await pipeline.run(step, queued.recording_id)
    assert (await env.row(queued.recording_id)).state == RecordingState.STORED
    assert len(list(env.store.list())) == 1
    assert await decrypted(env, queued.recording_id)


@pytest.mark.asyncio
async def test_a_missing_source_is_parked_not_dropped(env: Env) -> None:
    (queued,) = await queue_recordings(env.db, ["never-written"])
    await env.run_all(env.pipeline(), max_attempts=3)
    backlog = await env.queue().backlog()
    assert backlog.parked == 1
    job = await env.queue().get(queued.job_id)
    assert job is not None
    assert (job.state, job.step, job.attempts) == (JobState.FAILED, JobStep.FETCH, 3)
    assert "SourceMissing" in (job.last_error or "")
    assert (await env.row(queued.recording_id)).state == RecordingState.FAILED
    assert list(env.temp.iterdir()) == []
    assert await env.queue().requeue(queued.job_id)  # an operator can retry it


@pytest.mark.asyncio
async def test_source_kept_when_not_deleting(env: Env) -> None:
    write_wav(env.source_dir / "c1-1.wav", 1.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    await env.run_all(env.pipeline(delete_source=False))
    assert (await env.row(queued.recording_id)).state == RecordingState.STORED
    assert (env.source_dir / "c1-1.wav").exists()


@pytest.mark.asyncio
async def test_many_recordings_two_workers_each_stored_once(env: Env) -> None:
    names = env.spool([f"c1-{i}" for i in range(8)])
    queued = await queue_recordings(env.db, names)
    await env.run_all(env.pipeline())
    rows = [await env.row(q.recording_id) for q in queued]
    assert {row.state for row in rows} == {RecordingState.STORED}
    assert sorted(env.store.list()) == sorted(str(row.object_key) for row in rows)


def test_missing_local_keyring_is_created(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ring.json"
    recipient = RecipientSettings(provider="local", keyring_file=path, key_name="dev-1")
    created = local_keyring(recipient)
    assert created.primary == "dev-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_keyring(recipient).keys == created.keys  # loaded, not replaced


# -- a step registered beside the standard ones --------------------------------------------------
WITH_PROBE = [*STEPS[:2], PROBE, *STEPS[2:]]


@dataclass
class Probed:
    """A pipeline with the probe registered after transcode, and what it saw."""

    pipeline: Pipeline
    figures: dict[str, list[list[Figures]]]
    seen: list[tuple[str, str]]

    def ran(self, recording_id: str) -> list[str]:
        return [step for step, rid in self.seen if rid == recording_id]


def probed(env: Env) -> Probed:
    figures: dict[str, list[list[Figures]]] = {}
    seen: list[tuple[str, str]] = []

    def record(recording_id: str, found: list[Figures]) -> None:
        figures.setdefault(recording_id, []).append(found)

    steps = inserted(STANDARD, probe(record), after=JobStep.TRANSCODE)
    return Probed(env.pipeline(steps=observed(steps, seen)), figures, seen)


@pytest.mark.asyncio
async def test_a_registered_step_runs_between_transcode_and_encrypt_once(env: Env) -> None:
    queued = await queue_recordings(env.db, env.spool(["c1-1", "c1-2"], 2.0))
    probe_run = probed(env)
    await env.run_all(probe_run.pipeline)
    for item in queued:
        assert probe_run.ran(item.recording_id) == WITH_PROBE
        ((figures,),) = probe_run.figures[item.recording_id]
        assert figures.duration_s == pytest.approx(2.0)
        assert figures.peak > 4000
        assert (await env.row(item.recording_id)).state == RecordingState.STORED
    assert list(env.temp.iterdir()) == []


@pytest.mark.parametrize("restart_before", WITH_PROBE[1:])
@pytest.mark.asyncio
async def test_a_registered_step_resumes_after_a_restart_and_runs_once(
    env: Env, restart_before: str
) -> None:
    write_wav(env.source_dir / "c1-1.wav", 2.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    probe_run = probed(env)
    step: str = JobStep.FETCH
    while step != restart_before:
        step = await probe_run.pipeline.run(step, queued.recording_id)
    probe_run.pipeline.workspace.prepare()  # a restart sweeps the temporary directory
    while step != JobStep.DONE:
        step = await probe_run.pipeline.run(step, queued.recording_id)
    assert probe_run.ran(queued.recording_id).count(PROBE) == 1
    ((figures,),) = probe_run.figures[queued.recording_id]
    assert figures.duration_s == pytest.approx(2.0)
    row = await env.row(queued.recording_id)
    assert row.state == RecordingState.STORED
    assert list(env.store.list()) == [row.object_key]


@pytest.mark.asyncio
async def test_a_step_runs_only_after_the_steps_making_what_it_needs(env: Env) -> None:
    early = inserted(STANDARD, probe(lambda rid, found: None), after=JobStep.FETCH)
    assert env.pipeline(steps=early).steps[1].name == PROBE
    with pytest.raises(StepOrderError, match="needs 'sources'"):
        env.pipeline(steps=(probe(lambda rid, found: None), *STANDARD))
    with pytest.raises(StepOrderError, match="taken"):
        env.pipeline(steps=(*STANDARD, STANDARD[-1]))


@pytest.mark.asyncio
async def test_a_job_at_an_unregistered_step_is_parked_not_dropped(env: Env) -> None:
    write_wav(env.source_dir / "c1-1.wav", 1.0)
    (queued,) = await queue_recordings(env.db, ["c1-1"])
    queue = env.queue(max_attempts=1)
    job = await queue.claim("w", dt.timedelta(seconds=5))
    assert job is not None
    await queue.advance(job, PROBE)  # queued by a pipeline that had the probe
    with pytest.raises(UnknownStepError):
        await env.pipeline().run(PROBE, queued.recording_id)
    await env.run_all(env.pipeline(), max_attempts=1)
    parked = await env.queue().get(queued.job_id)
    assert parked is not None
    assert (parked.state, parked.step) == (JobState.FAILED, PROBE)
    assert "UnknownStepError" in (parked.last_error or "")


# -- a job's progress is written at checkpoints, not after every step ---------------------------
async def job_row(env: Env, recording_id: str) -> tuple[str, int]:
    job = next(j for j in await _jobs(env) if j.recording_id == recording_id)
    return job.step, job.attempts


async def _jobs(env: Env) -> list[RecordingJob]:
    async with env.db.read() as session:
        return list(await session.scalars(select(RecordingJob)))


def peeking(
    env: Env, seen: list[tuple[str, int]], *, saved: bool = False, name: str = "peek"
) -> Step:
    """A step after encrypt that notes what the job's row names while it runs."""

    async def peek(_tools: Tools, recording: Recording) -> None:
        seen.append(await job_row(env, recording.id))

    return Step(name, peek, saved=saved)


def job_writes(env: Env) -> dict[str, int]:
    """Count the statements that claim a job and those that write its step."""
    counts = {"claims": 0, "steps": 0}

    def count(_c: object, _cur: object, statement: str, *_: object) -> None:
        if "attempts=(recording_jobs.attempts + ?)" in statement:
            counts["claims"] += 1
        elif statement.startswith("UPDATE recording_jobs SET step=?"):
            counts["steps"] += 1

    event.listen(env.db.engine.sync_engine, "before_cursor_execute", count)
    return counts


@pytest.mark.asyncio
async def test_a_short_job_writes_its_step_once_at_the_end_not_after_each_step(env: Env) -> None:
    queued = await queue_recordings(env.db, env.spool([f"c1-{i}" for i in range(3)]))
    seen: list[tuple[str, int]] = []
    steps = inserted(STANDARD, peeking(env, seen), after=JobStep.ENCRYPT)
    writes = job_writes(env)
    await env.run_all(env.pipeline(fmt="wav", steps=steps))
    assert seen == [(JobStep.FETCH, 1)] * 3  # the row still names the step it was claimed at
    assert writes["steps"] == 3  # one per job: done (the steps before wrote nothing)
    for item in queued:
        assert (await env.row(item.recording_id)).state == RecordingState.STORED
        assert await job_row(env, item.recording_id) == (JobStep.DONE, 0)


@pytest.mark.asyncio
async def test_with_no_checkpoint_interval_every_step_is_written_before_the_next(env: Env) -> None:
    await queue_recordings(env.db, env.spool(["c1-1"]))
    seen: list[tuple[str, int]] = []
    steps = inserted(STANDARD, peeking(env, seen), after=JobStep.ENCRYPT)
    writes = job_writes(env)
    await env.run_all(env.pipeline(fmt="wav", steps=steps), options=replace(FAST, checkpoint=0))
    assert seen == [("peek", 1)]
    assert writes["steps"] == len(steps)


@pytest.mark.asyncio
async def test_a_step_that_must_not_run_twice_is_written_as_soon_as_it_is_done(env: Env) -> None:
    await queue_recordings(env.db, env.spool(["c1-1"]))
    seen: list[tuple[str, int]] = []
    steps = inserted(STANDARD, peeking(env, seen, saved=True), after=JobStep.ENCRYPT)
    steps = inserted(steps, peeking(env, seen, name="peek-2"), after=JobStep.UPLOAD)
    await env.run_all(env.pipeline(fmt="wav", steps=steps))
    assert seen == [(JobStep.FETCH, 1), (JobStep.UPLOAD, 1)]  # moved past "peek" once done


@pytest.mark.asyncio
async def test_a_step_reached_in_memory_fails_on_its_own_attempts(env: Env) -> None:
    """The claim's attempt counter is not the failing step's: it gets its own two attempts."""
    (queued,) = await queue_recordings(env.db, env.spool(["c1-1"]))
    runs = {"fetch": 0, "flaky": 0}

    async def fetch_fails_once(tools: Tools, recording: Recording) -> None:
        runs["fetch"] += 1
        if runs["fetch"] == 1:
            raise RuntimeError("fetch: first attempt fails")
        await STANDARD[0].action(tools, recording)

    async def always_fails(_tools: Tools, _recording: Recording) -> None:
        runs["flaky"] += 1
        raise RuntimeError("flaky step fails")

    steps = inserted(STANDARD, Step("flaky", always_fails, saved=False), after=JobStep.TRANSCODE)
    steps = (replace(steps[0], action=fetch_fails_once), *steps[1:])
    await env.run_all(env.pipeline(fmt="wav", steps=steps), max_attempts=2)
    # fetch: 1 failed, 2 went on to flaky (in memory), which failed on its own attempts 1, 2
    assert runs == {"fetch": 2, "flaky": 2}
    job = await env.queue().get(queued.job_id)
    assert job is not None
    assert (job.state, job.step, job.attempts) == (JobState.FAILED, "flaky", 2)
    assert "flaky step fails" in (job.last_error or "")
    assert (await env.row(queued.recording_id)).state == RecordingState.FAILED


@pytest.mark.asyncio
async def test_a_step_after_the_commit_sees_the_row_committed(env: Env) -> None:
    """The worker reads the row once per run, and again after the step that commits it."""
    await queue_recordings(env.db, env.spool(["c1-1"]))
    seen: list[tuple[str, str]] = []
    after_commit = Step("after-commit", _nothing, needs=(COMMITTED,), saved=False)
    steps = observed(inserted(STANDARD, after_commit, after=JobStep.COMMIT), seen)
    await env.run_all(env.pipeline(fmt="wav", steps=steps))
    ran = [name for name, _ in seen]
    assert ran.count(JobStep.COMMIT) == 1  # not run again to make COMMITTED for the next step
    assert ran[ran.index(JobStep.COMMIT) + 1] == "after-commit"


async def _nothing(_tools: Tools, _recording: Recording) -> None:
    return None


@pytest.mark.asyncio
async def test_a_worker_done_with_a_rung_job_waits_instead_of_claiming_again(env: Env) -> None:
    names = env.spool([f"c1-{i}" for i in range(4)])
    writes = job_writes(env)
    queue = env.queue()
    # No poll during the test: every claim is a ring's or the start's.
    quiet = replace(FAST, poll=30.0)
    async with running(queue, env.pipeline(fmt="wav"), 2, "test", quiet) as pool:
        for name in names:
            await queue_recordings(env.db, [name], bell=queue.bell)
            await pool.wait_idle()
    assert writes["claims"] == 2 + len(names)  # each worker's first look, then one per job
    assert writes["steps"] == len(names)
