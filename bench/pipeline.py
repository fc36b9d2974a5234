"""Recording pipeline benchmark: CPU per recorded minute by step, and hangup-to-stored latency.

Pre-made WAV files like Asterisk's (8 kHz, 16-bit mono, speech-like) go through the real
pipeline (SQLite queue, directory source, local storage, local keyring, Opus):

1. CPU milliseconds per recorded minute, split by step: each recording's steps run one after
   the other in this process; CPU is this process's plus its children's (ffmpeg).
2. Latency: RECORDINGS recordings finish at once (their jobs are queued together, like a wave
   of hangups), the daemon's default of 2 workers stores them; per recording, the time from
   queueing to `stored_at`: p50, p99.
3. Baseline: a bare `ffmpeg` transcode of the same files to the same Opus settings.
4. `format: wav`: the transcode step's CPU when WAV is stored (written directly, no ffmpeg),
   beside a bare `ffmpeg` WAV-to-WAV run of the same files (what the step used to start).

Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording import audio
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import JobStep
from zentrale.recording.pipeline import Pipeline, PipelineConfig
from zentrale.recording.sources import DirectorySource
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions, running
from zentrale.recording.workspace import Workspace
from zentrale.testing.recordings import queue_recordings, write_wav

SECONDS = 60.0  # each recording
CPU_RECORDINGS = 5
RECORDINGS = 50
STEPS = [
    JobStep.FETCH,
    JobStep.TRANSCODE,
    JobStep.ENCRYPT,
    JobStep.UPLOAD,
    JobStep.VERIFY,
    JobStep.COMMIT,
    JobStep.DELETE_SOURCE,
    JobStep.CLEANUP,
]
TARGETS = {"cpu_ms_per_minute_total": 1000.0, "latency_p99_s": 120.0}


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (ffmpeg), user + system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def make_files(spool: Path, prefix: str, count: int) -> list[str]:
    spool.mkdir(parents=True, exist_ok=True)
    template = write_wav(spool / f"{prefix}-template.wav", SECONDS)
    names = [f"{prefix}-{i}" for i in range(count)]
    for name in names:
        (spool / f"{name}.wav").write_bytes(template.read_bytes())
    template.unlink()
    return names


def pipeline(db: Database, root: Path, keyring: Keyring, fmt: str = "opus") -> Pipeline:
    return Pipeline(
        recordings=RecordingStore(db),
        source=DirectorySource(root / "spool"),
        store=LocalStore(root / "objects"),
        recipients=[LocalKeyProvider(keyring)],
        workspace=Workspace(root / "tmp"),
        config=PipelineConfig(audio.FORMATS[fmt], "local"),
    )


async def cpu_by_step(db: Database, root: Path, keyring: Keyring) -> dict[str, float]:
    names = make_files(root / "spool", "cpu", CPU_RECORDINGS)
    queued = await queue_recordings(db, names)
    work = pipeline(db, root, keyring)
    spent = dict.fromkeys((s.value for s in STEPS), 0.0)
    for item in queued:
        for step in STEPS:
            before = cpu_seconds()
            await work.run(step, item.recording_id)
            spent[step.value] += cpu_seconds() - before
    minutes = CPU_RECORDINGS * SECONDS / 60
    return {step: round(1000 * total / minutes, 1) for step, total in spent.items()}


async def wav_transcode(db: Database, root: Path, keyring: Keyring) -> float:
    """CPU ms per recorded minute of the transcode step alone when the stored format is WAV."""
    names = make_files(root / "spool", "wav", CPU_RECORDINGS)
    queued = await queue_recordings(db, names)
    work = pipeline(db, root, keyring, "wav")
    spent = 0.0
    for item in queued:
        for step in STEPS:
            before = cpu_seconds()
            await work.run(step, item.recording_id)
            if step is JobStep.TRANSCODE:
                spent += cpu_seconds() - before
    return round(1000 * spent / (CPU_RECORDINGS * SECONDS / 60), 1)


async def latency(db: Database, root: Path, keyring: Keyring) -> dict[str, float]:
    names = make_files(root / "spool", "wave", RECORDINGS)
    queued = await queue_recordings(db, names)
    options = WorkerOptions(poll=0.05)
    started = time.monotonic()
    async with running(
        queue=JobQueue(db),
        pipeline=pipeline(db, root, keyring),
        count=2,
        node="bench",
        options=options,
    ) as pool:
        await pool.wait_idle()
    wall = time.monotonic() - started
    store = RecordingStore(db)
    rows = [await store.get(item.recording_id) for item in queued]
    waits = sorted((r.stored_at - r.created_at).total_seconds() for r in rows if r.stored_at)
    return {
        "latency_p50_s": round(statistics.median(waits), 2),
        "latency_p99_s": round(waits[min(len(waits) - 1, int(0.99 * len(waits)))], 2),
        "wave_wall_s": round(wall, 2),
        "stored": len(waits),
    }


def ffmpeg_baseline(root: Path, options: tuple[str, ...], extension: str) -> float:
    """CPU ms per recorded minute of a bare ffmpeg transcode of the same files."""
    names = make_files(root / "baseline", f"base-{extension}", CPU_RECORDINGS)
    before = cpu_seconds()
    for name in names:
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(root / "baseline" / f"{name}.wav"),
                *options,
                str(root / "baseline" / f"{name}.out.{extension}"),
            ],
            check=True,
        )
    return round(1000 * (cpu_seconds() - before) / (CPU_RECORDINGS * SECONDS / 60), 1)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="zentrale-bench-") as tmp:
        root = Path(tmp)
        db = Database.open(f"sqlite+aiosqlite:///{root / 'bench.db'}")
        await upgrade_engine(db.engine)
        keyring = Keyring.generate()
        try:
            steps = await cpu_by_step(db, root, keyring)
            waves = await latency(db, root, keyring)
            wav_step = await wav_transcode(db, root, keyring)
        finally:
            await db.close()
        baseline = ffmpeg_baseline(root, audio.FORMATS["opus"].mono, "opus")
        wav_baseline = ffmpeg_baseline(root, ("-f", "wav", "-c:a", "pcm_s16le"), "wav")
    total = round(sum(steps.values()), 1)
    for step, value in steps.items():
        print(f"{step:>14}: {value:8.1f} CPU ms per recorded minute")
    print(f"{'total':>14}: {total:8.1f} (bare ffmpeg transcode: {baseline})")
    print(
        f"{RECORDINGS} recordings of {SECONDS:.0f} s at once: p50 {waves['latency_p50_s']} s, "
        f"p99 {waves['latency_p99_s']} s, all stored in {waves['wave_wall_s']} s"
    )
    print(
        f"format wav, transcode step: {wav_step} CPU ms per recorded minute "
        f"(bare ffmpeg WAV to WAV: {wav_baseline})"
    )
    figures = {
        "cpu_ms_per_minute": steps,
        "cpu_ms_per_minute_total": total,
        **waves,
        "wav_transcode_cpu_ms_per_minute": wav_step,
    }
    cpu_limit, latency_limit = TARGETS["cpu_ms_per_minute_total"], TARGETS["latency_p99_s"]
    met = {
        f"cpu_ms_per_minute_total <= {cpu_limit:g}": total <= cpu_limit,
        f"latency_p99_s <= {latency_limit:g}": waves["latency_p99_s"] <= latency_limit,
        "wav_transcode_cpu_ms_per_minute < ffmpeg_wav_cpu_ms_per_minute": wav_step < wav_baseline,
    }
    print(
        json.dumps(
            {
                "bench": "pipeline",
                "figures": figures,
                "baseline": {
                    "ffmpeg_transcode_cpu_ms_per_minute": baseline,
                    "ffmpeg_wav_cpu_ms_per_minute": wav_baseline,
                },
                "targets": met,
            }
        )
    )


if __name__ == "__main__":
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    asyncio.run(main())
    sys.exit(0)
