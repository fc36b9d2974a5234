"""Benchmark: what an idle daemon costs, CPU and database statements per second (issue 15).

Method. `zentrale run` runs as a real process (SQLite, wav, local storage and keys, HTTP on,
no call) against the fake ARI server (`zentrale.testing.fake_ari`, its own process; the
daemon connects, pings it every `ari.ping_interval` and gets no event). After the daemon is
ready and SETTLE seconds have passed (start-up work done), the bench measures WINDOW seconds:
the daemon's CPU (utime+stime from /proc, all its threads: aiosqlite's included) and the
statements and transactions it sent to the database. The counting is a SQLAlchemy
`before_cursor_execute`/`commit` listener installed by the small launcher below before the
CLI starts (one Python call per statement, the same in both variants); SIGUSR1 makes it
write its counts, at the window's start and end.

Variants, rounds alternating (ROUNDS each, the order swapped every round; the machine may be
shared), each a fresh daemon on a fresh database:
- `this`: this tree with its defaults (pipeline workers wake on the `JobBell` and poll every
  `recording.poll_interval`, 5 s).
- `baseline`: the old behaviour. By default this tree with the old timings restored by
  settings (`recording.poll_interval: 0.5`: the two workers' fixed 0.5 s poll of before;
  `telephony.campaign_idle_poll: 1`: the campaign runner's look every second);
  with BENCH_IDLE_BASELINE naming another checkout's `src` (e.g. /work/main/src), that tree's
  code with its own defaults instead.

Also per round: CPU used by other processes on the host during the window
(`machine_busy_elsewhere` when above 0.1 core).

Then the pipeline's share of a call, PACED_ROUNDS rounds per variant alternating, each in a
fresh process: PACED recordings (3 s WAV files like Asterisk's) queued at PACED_RATE per
second the way the journal queues them (`queue_recordings`, ringing the bell in `this`; no
bell and `poll: 0.5` in `baseline`), two workers of the real pipeline (SQLite queue, directory
source, local store and keyring, `format: wav`) storing them; CPU of the process (all threads)
from the first queueing until all are stored, per recording, and queued-to-stored latency.
Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from calls import wait_ready  # bench/ is the script's directory, on sys.path
from zentrale.sandbox.instance import free_port

ROUNDS = int(os.environ.get("BENCH_IDLE_ROUNDS", "3"))
PACED_ROUNDS = int(os.environ.get("BENCH_IDLE_PACED_ROUNDS", "3"))
PACED = 60
PACED_RATE = 4.0  # recordings per second: zentrale's sustained call rate in bench/calls.py
WINDOW = float(os.environ.get("BENCH_IDLE_WINDOW", "30"))
SETTLE = float(os.environ.get("BENCH_IDLE_SETTLE", "5"))
REPO = Path(__file__).resolve().parent.parent
HERE = str(REPO / "src")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_RATIO = 0.2  # idle CPU per second against the old polling's
OLD_TIMINGS = (
    'recording: {temp_dir: "{home}/tmp", format: wav, poll_interval: 0.5}\n'
    "telephony: {campaign_idle_poll: 1}"
)
OLD_HOW = "this tree, recording.poll_interval 0.5, telephony.campaign_idle_poll 1"
NEW_TIMINGS = 'recording: {temp_dir: "{home}/tmp", format: wav}'

LAUNCHER = """
import json, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine

counts = {"statements": 0, "commits": 0}
kinds = {}
out = sys.argv.pop(1)

@event.listens_for(Engine, "before_cursor_execute")
def _statement(_conn, _cursor, statement, *_args):
    counts["statements"] += 1
    kind = " ".join(statement.split())[:70]
    kinds[kind] = kinds.get(kind, 0) + 1

@event.listens_for(Engine, "commit")
def _commit(*_args):
    counts["commits"] += 1

def _dump(*_args):
    with open(out, "a") as file:
        file.write(json.dumps({**counts, "kinds": kinds}) + "\\n")

signal.signal(signal.SIGUSR1, _dump)
from zentrale.cli import main
sys.argv[0] = "zentrale"
main()
"""

RULES = """
version: 1
timezone: Europe/Berlin
languages: {available: [en], default: en, fallback: en}
prompts: {bye: sound:vm-goodbye}
announcements: {}
departments:
  bench:
    agents: [{endpoint: "PJSIP/1001", name: "Agent"}]
    strategy: round_robin
    ring_timeout: 5s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 0s
    recording: true
menus: {}
entry_rules:
  - {name: everyone, action: {department: bench}}
"""


def cpu_seconds(pid: int) -> float:
    """Return utime+stime of PID in seconds, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def host_busy_seconds() -> float:
    """Return the CPU seconds all processors spent busy since boot, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK


def start_fake() -> tuple[subprocess.Popen[str], int]:
    """Start the fake ARI in its own process; return it and its port."""
    cmd = [sys.executable, "-m", "zentrale.testing.fake_ari", "--app", "zentrale-idle"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc, int(json.loads(proc.stdout.readline())["port"])


def write_settings(home: Path, ari_port: int, http_port: int, timings: str) -> Path:
    """Write the daemon's settings and rules into HOME; return the settings file."""
    (home / "ari-password").write_text("fake-secret")
    (home / "ari-password").chmod(0o600)
    (home / "routing.yaml").write_text(RULES)
    settings = home / "zentrale.yaml"
    settings.write_text(f"""
state_dir: {home}
ari: {{url: "http://127.0.0.1:{ari_port}/ari", username: zentrale,
      password_file: "{home}/ari-password", app: zentrale-idle}}
routing: {{file: "{home}/routing.yaml", history_dir: "{home}/history"}}
database: {{url: "sqlite+aiosqlite:///{home}/z.db"}}
http: {{host: 127.0.0.1, port: {http_port}}}
prompts: {{dir: "{home}/prompts"}}
{timings.replace("{home}", str(home))}
storage: {{path: "{home}/recordings"}}
keys: {{recipients: [{{provider: local, keyring_file: "{home}/keyring.json"}}]}}
""")
    return settings


def counts(path: Path, daemon: subprocess.Popen[bytes], lines: int) -> dict[str, Any]:
    """Ask the daemon for its statement counts (SIGUSR1); return them once written."""
    daemon.send_signal(signal.SIGUSR1)
    for _ in range(100):
        written = path.read_text().splitlines() if path.exists() else []
        if len(written) >= lines:
            return dict(json.loads(written[lines - 1]))
        time.sleep(0.05)
    raise RuntimeError("the daemon did not write its counts")


def stop(daemon: subprocess.Popen[bytes]) -> None:
    """Stop the daemon with SIGTERM (kill it if it hangs)."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(40)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(10)


def one_round(src: str, timings: str, ari_port: int) -> dict[str, Any]:
    """Run one idle daemon on SRC's code with TIMINGS; return its figures per idle second."""
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        home = Path(tmp)
        http_port = free_port()
        settings = write_settings(home, ari_port, http_port, timings)
        out = home / "counts"
        argv = [sys.executable, "-c", LAUNCHER, str(out), "--config", str(settings), "run"]
        with (home / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(
                argv,
                stdout=log,
                stderr=log,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": src, "ZENTRALE_CONFIG": ""},
            )
        try:
            asyncio.run(wait_ready(http_port, daemon))
            time.sleep(SETTLE)
            before = counts(out, daemon, 1), cpu_seconds(daemon.pid), host_busy_seconds()
            started = time.monotonic()
            time.sleep(WINDOW)
            after = counts(out, daemon, 2), cpu_seconds(daemon.pid), host_busy_seconds()
            seconds = time.monotonic() - started
        finally:
            stop(daemon)
    cpu = after[1] - before[1]
    kinds_before, kinds_after = before[0]["kinds"], after[0]["kinds"]
    kinds = {k: n - kinds_before.get(k, 0) for k, n in kinds_after.items()}
    return {
        "kinds": {k: round(n / seconds, 3) for k, n in sorted(kinds.items()) if n},
        "cpu_ms_per_s": 1000 * cpu / seconds,
        "statements_per_s": (after[0]["statements"] - before[0]["statements"]) / seconds,
        "commits_per_s": (after[0]["commits"] - before[0]["commits"]) / seconds,
        "others_cores": (after[2] - before[2] - cpu) / seconds,
    }


def summary(rounds: list[dict[str, Any]]) -> dict[str, object]:
    """Return the medians and each round's figures."""
    keys = ("cpu_ms_per_s", "statements_per_s", "commits_per_s")
    found: dict[str, object] = {
        f"{key}_median": round(statistics.median(r[key] for r in rounds), 2) for key in keys
    }
    for key in keys:
        found[key] = [round(r[key], 2) for r in rounds]
    found["others_cores"] = [round(r["others_cores"], 2) for r in rounds]
    found["statements_per_s_by_kind_last_round"] = rounds[-1]["kinds"]
    return found


async def _paced(variant: str, root: Path) -> dict[str, float]:
    """Queue PACED recordings at PACED_RATE; return CPU ms per recording and the latency."""
    from zentrale.config.settings import RecipientSettings
    from zentrale.db.session import Database
    from zentrale.migrations import upgrade_engine
    from zentrale.recording import audio
    from zentrale.recording.bell import JobBell
    from zentrale.recording.jobs import JobQueue
    from zentrale.recording.keys.local import LocalKeyProvider
    from zentrale.recording.pipeline import Pipeline, PipelineConfig
    from zentrale.recording.setup import local_keyring
    from zentrale.recording.sources import DirectorySource
    from zentrale.recording.storage.local import LocalStore
    from zentrale.recording.store import RecordingStore
    from zentrale.recording.worker import WorkerOptions, running
    from zentrale.recording.workspace import Workspace
    from zentrale.testing.recordings import queue_recordings, write_wav

    (root / "spool").mkdir()
    for number in range(PACED):
        write_wav(root / "spool" / f"r{number}.wav", 3.0)
    keyring = local_keyring(RecipientSettings(provider="local", keyring_file=root / "keyring.json"))
    async with Database.open(f"sqlite+aiosqlite:///{root / 'z.db'}") as db:
        await upgrade_engine(db.engine)
        work = Pipeline(
            recordings=RecordingStore(db),
            source=DirectorySource(root / "spool"),
            store=LocalStore(root / "objects"),
            recipients=[LocalKeyProvider(keyring)],
            workspace=Workspace(root / "tmp"),
            config=PipelineConfig(audio.FORMATS["wav"], "local"),
        )
        bell = JobBell()
        ring = bell if variant == "this" else None
        poll = 5.0 if variant == "this" else 0.5
        queue = JobQueue(db, bell=bell)
        async with running(queue, work, 2, "bench", WorkerOptions(poll=poll)) as pool:
            await asyncio.sleep(1.0)  # the workers are idle, as between calls
            cpu = time.process_time()
            queued = []
            for number in range(PACED):
                queued += await queue_recordings(db, [f"r{number}"], bell=ring)
                await asyncio.sleep(1 / PACED_RATE)
            await pool.wait_idle()
            cpu = time.process_time() - cpu
        rows = [await RecordingStore(db).get(item.recording_id) for item in queued]
    waits = sorted((r.stored_at - r.created_at).total_seconds() for r in rows if r.stored_at)
    return {
        "cpu_ms_per_recording": 1000 * cpu / PACED,
        "latency_p50_ms": 1000 * statistics.median(waits),
        "stored": len(waits),
    }


def paced_round(variant: str) -> dict[str, float]:
    """Run one paced round of VARIANT in a fresh process; return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--paced", variant],
        env={**os.environ, "PYTHONPATH": HERE},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def paced() -> dict[str, dict[str, object]]:
    """Alternate paced rounds of both variants; return their medians and rounds."""
    found: dict[str, list[dict[str, float]]] = {"this": [], "baseline": []}
    for number in range(PACED_ROUNDS):
        for variant in ("this", "baseline") if number % 2 == 0 else ("baseline", "this"):
            figures = paced_round(variant)
            found[variant].append(figures)
            print(
                f"paced {number + 1} {variant:8} {figures['cpu_ms_per_recording']:6.1f} ms CPU"
                f"/recording  latency p50 {figures['latency_p50_ms']:6.0f} ms"
                f"  stored {figures['stored']:.0f}/{PACED}",
                flush=True,
            )
    keys = ("cpu_ms_per_recording", "latency_p50_ms")
    return {
        variant: {
            **{f"{k}_median": round(statistics.median(r[k] for r in rounds), 1) for k in keys},
            **{k: [round(r[k], 1) for r in rounds] for k in keys},
            "stored": [int(r["stored"]) for r in rounds],
        }
        for variant, rounds in found.items()
    }


def _interrupted(*_args: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Alternate idle rounds of this tree and the baseline; print them and the JSON line.

    A SIGTERM (or ^C) stops the daemon and the fake before the bench exits.
    """
    signal.signal(signal.SIGTERM, _interrupted)
    other = os.environ.get("BENCH_IDLE_BASELINE")
    variants = {
        "this": (HERE, NEW_TIMINGS),
        "baseline": (other, NEW_TIMINGS) if other else (HERE, OLD_TIMINGS),
    }
    fake, ari_port = start_fake()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    try:
        for number in range(ROUNDS):
            order = list(variants) if number % 2 == 0 else list(variants)[::-1]
            for name in order:
                figures = one_round(*variants[name], ari_port)
                results[name].append(figures)
                print(
                    f"round {number + 1} {name:8} {figures['cpu_ms_per_s']:6.2f} ms CPU/s"
                    f"  {figures['statements_per_s']:5.2f} statements/s"
                    f"  {figures['commits_per_s']:5.2f} commits/s"
                    f"  others {figures['others_cores']:.2f} cores",
                    flush=True,
                )
    finally:
        fake.terminate()
        fake.wait(10)
    pipeline = paced() if PACED_ROUNDS else {"this": {}, "baseline": {}}
    this, base = summary(results["this"]), summary(results["baseline"])
    ratio = round(float(this["cpu_ms_per_s_median"]) / float(base["cpu_ms_per_s_median"]), 3)  # type: ignore[arg-type]
    print(
        f"idle CPU: this {this['cpu_ms_per_s_median']} ms/s, baseline "
        f"{base['cpu_ms_per_s_median']} ms/s, ratio {ratio} (target <= {TARGET_RATIO})"
    )
    busy = max(r["others_cores"] for rounds in results.values() for r in rounds)
    line = {
        "bench": "idle",
        "figures": {
            **this,
            "window_s": WINDOW,
            "rounds": ROUNDS,
            "ratio_cpu_to_baseline": ratio,
            "machine_busy_elsewhere": busy > 0.1,
            "pipeline_paced": pipeline["this"],
        },
        "baseline": {"how": other or OLD_HOW, **base, "pipeline_paced": pipeline["baseline"]},
        "targets": {f"ratio_cpu_to_baseline <= {TARGET_RATIO}": ratio <= TARGET_RATIO},
    }
    print(json.dumps(line))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--paced"]:
        with tempfile.TemporaryDirectory(prefix="bench-idle-paced-") as tmp:
            print(json.dumps(asyncio.run(_paced(sys.argv[2], Path(tmp)))))
    else:
        main()
