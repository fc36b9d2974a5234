"""Benchmark: the daemon's CPU per stored recording of a bench call (docs/performance.md).

Why. In `bench/calls.py` storing the recording was more than half of the daemon's CPU per call
(98-108 ms per call with it, 40-45 without), and most of that was not audio work but the job's
database round trips. This bench measures that part alone.

Method. Each round runs in its own Python process (so one tree's imports and caches never help
another's): a fresh SQLite database (the bench's and a default node's), RECORDINGS WAV files of
TALK seconds like Asterisk's in a spool directory, the daemon's pipeline as a node stores them
(`format: wav`, local encrypted storage, local keyring, two workers waiting on the job bell), and
the recordings queued at RATE per second as the journal queues them at the calls' ends. CPU per
recording is the process's CPU (all threads, aiosqlite's worker included) from the first queueing
to the last recording stored, divided by the recordings; the queueing itself (one transaction per
recording) is in it. SQL statements and transactions are counted on the engine. Every round
checks that each recording is stored and its Asterisk file deleted.

Trees compared side by side, rounds alternating (the machine may be shared): `this` (the tree
this file is in) and, when BENCH_RECORDING_JOBS_BASELINE names another checkout's `src`, `baseline`.
Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_RECORDING_JOBS_ROUNDS", "3"))
RECORDINGS = int(os.environ.get("BENCH_RECORDING_JOBS_RECORDINGS", "120"))
RATE = 8.0  # recordings per second: calls ending at bench/calls.py's 8 calls/s
TALK = 3.0  # seconds of audio per recording, as bench/calls.py's calls talk
HERE = Path(__file__).resolve().parent.parent / "src"
TARGET_MS = 15.0  # CPU per recording: a quarter of the ~55 ms a call's recording cost the daemon


def _round(src: str) -> dict[str, float]:
    """Run one round in a fresh process on SRC's code; return its figures."""
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "--round"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _measure() -> dict[str, float]:
    """One round in this process (on whichever `zentrale` PYTHONPATH gives)."""
    import structlog
    from sqlalchemy import event

    from zentrale.calls.models import Direction
    from zentrale.calls.store import CallStore, NewCall
    from zentrale.db.session import Database
    from zentrale.migrations import upgrade_engine
    from zentrale.recording import audio
    from zentrale.recording.bell import JobBell
    from zentrale.recording.jobs import JobQueue
    from zentrale.recording.keys.local import Keyring, LocalKeyProvider
    from zentrale.recording.models import RecordingState
    from zentrale.recording.pipeline import Pipeline, PipelineConfig
    from zentrale.recording.sources import DirectorySource
    from zentrale.recording.storage.local import LocalStore
    from zentrale.recording.store import FinishedRecording, RecordingStore
    from zentrale.recording.worker import WorkerOptions, running
    from zentrale.recording.workspace import Workspace
    from zentrale.testing.recordings import write_wav

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))

    with tempfile.TemporaryDirectory(prefix="zentrale-bench-jobs-") as tmp:
        root = Path(tmp)
        spool = root / "spool"
        spool.mkdir()
        template = write_wav(root / "template.wav", TALK).read_bytes()
        names = [f"bench-{i:05d}" for i in range(RECORDINGS)]
        for name in names:
            (spool / f"{name}.wav").write_bytes(template)
        db = Database.open(f"sqlite+aiosqlite:///{root / 'bench.db'}")
        await upgrade_engine(db.engine)
        counts = {"statements": 0, "commits": 0}

        def statement(*_: object) -> None:
            counts["statements"] += 1

        def commit(*_: object) -> None:
            counts["commits"] += 1

        event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
        event.listen(db.engine.sync_engine, "commit", commit)
        calls = CallStore(db)
        for index in range(RECORDINGS):  # the calls exist before their recordings end
            await calls.create(NewCall(f"c{index}", Direction.INBOUND, dt.datetime.now(dt.UTC)))
        bell = JobBell()
        recordings = RecordingStore(db, bell=bell)
        pipeline = Pipeline(
            recordings=RecordingStore(db),
            source=DirectorySource(spool),
            store=LocalStore(root / "objects"),
            recipients=[LocalKeyProvider(Keyring.generate())],
            workspace=Workspace(root / "tmp"),
            config=PipelineConfig(audio.FORMATS["wav"], "local"),
        )
        try:
            async with running(
                JobQueue(db, bell=bell), pipeline, 2, "bench", WorkerOptions()
            ) as pool:
                counts["statements"] = counts["commits"] = 0
                started, wall = time.process_time(), time.monotonic()
                queued = []
                for index, name in enumerate(names):
                    delay = wall + index / RATE - time.monotonic()  # RATE a second
                    if delay > 0:
                        await asyncio.sleep(delay)
                    finished = FinishedRecording(f"c{index}", name, "wav")
                    queued.append(await recordings.recording_finished(finished))
                await pool.wait_idle()
                spent, drained = time.process_time() - started, time.monotonic() - wall
                statements, commits = counts["statements"], counts["commits"]
            rows = [await recordings.get(item.recording_id) for item in queued]
        finally:
            await db.close()
        stored = sum(row.state == RecordingState.STORED for row in rows)
        left = sum(1 for _ in spool.glob("*.wav"))
    if stored != RECORDINGS or left:
        raise SystemExit(f"round incomplete: {stored}/{RECORDINGS} stored, {left} files left")
    return {
        "cpu_ms_per_recording": round(1000 * spent / RECORDINGS, 2),
        "statements_per_recording": round(statements / RECORDINGS, 1),
        "transactions_per_recording": round(commits / RECORDINGS, 1),
        "round_s": round(drained, 1),
    }


def main() -> None:
    baseline_src = os.environ.get("BENCH_RECORDING_JOBS_BASELINE")
    trees = {"this": str(HERE)}
    if baseline_src:
        trees["baseline"] = baseline_src
    runs: dict[str, list[dict[str, float]]] = {tree: [] for tree in trees}
    for index in range(ROUNDS):
        order = list(trees) if index % 2 == 0 else list(reversed(trees))
        for tree in order:
            figures = _round(trees[tree])
            runs[tree].append(figures)
            print(f"round {index + 1} {tree:>8}: {figures}", flush=True)

    def summary(tree: str) -> dict[str, float]:
        rounds = runs[tree]
        cpu = [r["cpu_ms_per_recording"] for r in rounds]
        return {
            "cpu_ms_per_recording": round(statistics.median(cpu), 2),
            "cpu_ms_per_recording_min": min(cpu),
            "cpu_ms_per_recording_max": max(cpu),
            "statements_per_recording": rounds[-1]["statements_per_recording"],
            "transactions_per_recording": rounds[-1]["transactions_per_recording"],
        }

    figures = summary("this")
    baseline = summary("baseline") if "baseline" in runs else {}
    targets = {f"cpu_ms_per_recording < {TARGET_MS:g}": figures["cpu_ms_per_recording"] < TARGET_MS}
    if baseline:
        ratio = figures["cpu_ms_per_recording"] / baseline["cpu_ms_per_recording"]
        figures["cpu_ratio_to_baseline"] = round(ratio, 2)
        targets["cpu_ratio_to_baseline < 0.5"] = ratio < 0.5
    print(
        json.dumps(
            {
                "bench": "recording_jobs",
                "figures": figures,
                "baseline": baseline,
                "targets": targets,
                "recordings": RECORDINGS,
                "rate": RATE,
                "rounds": ROUNDS,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--round"]:
        print(json.dumps(asyncio.run(_measure())))
    else:
        main()
    sys.exit(0)
