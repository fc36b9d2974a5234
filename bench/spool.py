"""Benchmark: a finished recording fetched and deleted over ARI, or in Asterisk's spool.

Method. One sandbox Asterisk (the real one of the tests). Each round puts RECORDINGS WAV files
of SECONDS seconds (8 kHz, 16-bit mono: Asterisk's `wav`) into its recording spool, then hands
each to the pipeline's source exactly as the `fetch` and `delete_source` steps do, WORKERS at a
time (the default pipeline has two workers): `fetch(name, target)` into a private temporary
directory, then `delete(name)`. Two sources, rounds alternating, ROUNDS each:

- `ari`: `AriSource` over a started `AriClient` (the file over HTTP, since Asterisk answers a
  file on the WebSocket with 406; the DELETE over the WebSocket, as the daemon sends it);
- `spool`: `SpoolSource` on the same directory (`recording.asterisk_spool`), ARI behind it.

Figures per round, per recording: this process's CPU (time.process_time: the daemon's side,
aiosqlite aside) and Asterisk's CPU (utime+stime of its pid from /proc), from the first fetch
to the last delete. Every round checks that each fetched file equals what was put and that the
spool is empty afterwards. Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

from recording_cost import cpu_seconds  # bench/ is the script's directory, on sys.path
from zentrale.recording.sources import RecordingSource
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.telephony.ari import AriClient
from zentrale.telephony.spool import AriSource, SpoolSource

ROUNDS = int(os.environ.get("BENCH_SPOOL_ROUNDS", "3"))
RECORDINGS = int(os.environ.get("BENCH_SPOOL_RECORDINGS", "200"))
SECONDS = float(os.environ.get("BENCH_SPOOL_SECONDS", "60"))
WORKERS = 2
TARGET_DAEMON_RATIO = 0.5  # the spool's daemon CPU per recording, against ARI's


def _wav(seconds: float) -> bytes:
    """A WAV as Asterisk writes it (8 kHz, 16-bit mono) of SECONDS of a changing signal."""
    frames = int(8000 * seconds)
    samples = bytes((n * 7) % 256 for n in range(frames * 2))
    with tempfile.TemporaryFile() as raw:
        with wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(samples)
        raw.seek(0)
        return raw.read()


def _left(spool: Path, prefix: str) -> list[Path]:
    return [path for path in spool.iterdir() if path.name.startswith(prefix)]


async def _round(
    source: RecordingSource, spool: Path, audio: bytes, pid: int, number: int
) -> dict[str, float | bool]:
    names = [f"bench{number}-{n:05d}" for n in range(RECORDINGS)]
    for name in names:
        (spool / f"{name}.wav").write_bytes(audio)
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as work:
        pending = list(names)
        same = True

        async def worker() -> None:
            nonlocal same
            while pending:
                name = pending.pop()
                target = Path(work) / f"{name}.wav"
                await source.fetch(name, target)
                same = same and target.read_bytes() == audio
                target.unlink()
                await source.delete(name)

        cpu, asterisk = time.process_time(), cpu_seconds(pid)
        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        cpu, asterisk = time.process_time() - cpu, cpu_seconds(pid) - asterisk
    left = _left(spool, f"bench{number}-")
    return {
        "daemon_cpu_ms": 1000 * cpu / RECORDINGS,
        "asterisk_cpu_ms": 1000 * asterisk / RECORDINGS,
        "complete": same and not left,
    }


async def _bench(asterisk: SandboxInstance) -> dict[str, list[dict[str, float | bool]]]:
    pid = asterisk.pid()
    assert pid is not None
    audio = _wav(SECONDS)
    spool = asterisk.recording_dir
    results: dict[str, list[dict[str, float | bool]]] = {"ari": [], "spool": []}
    async with AriClient(asterisk.ari) as ari:
        await ari.wait_connected(10)
        sources: dict[str, RecordingSource] = {
            "ari": AriSource(ari),
            "spool": SpoolSource(spool, AriSource(ari), "wav"),
        }
        order = list(sources)
        number = 0
        for round_number in range(ROUNDS):
            for name in order if round_number % 2 == 0 else order[::-1]:
                number += 1
                figures = await _round(sources[name], spool, audio, pid, number)
                results[name].append(figures)
                print(
                    f"round {round_number + 1} {name:6} daemon {figures['daemon_cpu_ms']:6.2f}"
                    f" ms  asterisk {figures['asterisk_cpu_ms']:6.2f} ms per recording"
                    f"  complete={figures['complete']}",
                    flush=True,
                )
    return results


def main() -> None:
    """Run the rounds on a fresh sandbox Asterisk; print a table and the JSON line."""
    asterisk = SandboxInstance(ensure_root(), name="bench-spool", app="zentrale-bench-spool")
    asterisk.start()
    try:
        results = asyncio.run(_bench(asterisk))
    finally:
        asterisk.stop()
        asterisk.remove()

    def median(name: str, figure: str) -> float:
        return round(statistics.median(float(r[figure]) for r in results[name]), 2)

    spool = {f: median("spool", f) for f in ("daemon_cpu_ms", "asterisk_cpu_ms")}
    ari = {f: median("ari", f) for f in ("daemon_cpu_ms", "asterisk_cpu_ms")}
    ratio = round(spool["daemon_cpu_ms"] / ari["daemon_cpu_ms"], 3)
    complete = all(bool(r["complete"]) for rounds in results.values() for r in rounds)
    line = {
        "bench": "spool",
        "figures": {
            "recordings_per_round": RECORDINGS,
            "seconds_per_recording": SECONDS,
            "rounds": ROUNDS,
            "daemon_cpu_ms_per_recording_median": spool["daemon_cpu_ms"],
            "asterisk_cpu_ms_per_recording_median": spool["asterisk_cpu_ms"],
            "daemon_cpu_ratio_spool_to_ari": ratio,
            "complete": complete,
        },
        "baseline": {
            "ari": {
                "daemon_cpu_ms_per_recording_median": ari["daemon_cpu_ms"],
                "asterisk_cpu_ms_per_recording_median": ari["asterisk_cpu_ms"],
            }
        },
        "targets": {
            f"daemon cpu ratio spool/ari < {TARGET_DAEMON_RATIO}": ratio < TARGET_DAEMON_RATIO,
            "asterisk cpu per recording spool < ari": (
                spool["asterisk_cpu_ms"] < ari["asterisk_cpu_ms"]
            ),
            "every recording fetched whole and deleted": complete,
        },
    }
    print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
