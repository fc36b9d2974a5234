"""Benchmark: the call journal's CPU per call, the daemon's largest cost (docs/performance.md).

Method. Each round runs in its own Python process (so one tree's imports and caches never
help another's) and drives `Journal` exactly as an inbound call of `bench/calls.py` does: the
17 writes of a call that is answered, goes through a menu, queues, reaches an agent, is
recorded and hangs up (`arrived`, 10 timeline events, 5 row updates, `recording_finished`,
`finished`), spread over the call's life (GAP seconds apart), CALLS calls arriving at RATE per
second. CPU per call is the process's CPU (all threads: aiosqlite's worker included) from the
first call to the journal's last write, divided by the calls; wall-clock latency is not the
point. SQL statements and transactions are counted on the engine over the same span. The
database is a fresh SQLite file (the bench's and a default node's), or PostgreSQL with
BENCH_JOURNAL_DB=postgresql (127.0.0.1:5432, trust: see zentrale.testing.databases).

Trees compared side by side, rounds alternating (the machine may be shared): `this` (the tree
this file is in) and, when BENCH_JOURNAL_BASELINE names another checkout's `src` (e.g. main's
worktree), `baseline`. Every round checks that the calls' rows and timelines are complete.
Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_JOURNAL_ROUNDS", "3"))
CALLS = int(os.environ.get("BENCH_JOURNAL_CALLS", "120"))
RATE = 8.0  # calls per second: zentrale's sustained rate in bench/calls.py
GAP = 0.25  # seconds between two writes of one call (a call writes 17 times in ~4 s)
HERE = Path(__file__).resolve().parent.parent / "src"
TARGET_MS = 20.0  # journal CPU per call: under a quarter of the 73-80 ms measured before


def _round(src: str, backend: str) -> dict[str, float]:
    """Run one round in a fresh process on SRC's code; return its figures."""
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "--round", backend],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _one_call(journal: object, number: int) -> None:
    """The journal writes of one answered, recorded inbound call (inbound.py's order)."""
    from zentrale.base.clock import utcnow
    from zentrale.calls.models import Direction, EventKind, Outcome
    from zentrale.calls.store import CallUpdate, Hangup, NewCall
    from zentrale.recording.store import FinishedRecording

    j: object = journal
    call_id = f"bench-{number:06d}"
    steps = [
        lambda: (
            j.arrived(NewCall(call_id, Direction.INBOUND, utcnow(), caller_number="+4930123"))
            or j.event(call_id, EventKind.ARRIVED, {"dialled": "100"})
        ),
        lambda: (
            j.update(call_id, CallUpdate(answered_by_app_at=utcnow()))
            or j.event(call_id, EventKind.ANSWERED)
        ),
        lambda: j.event(call_id, EventKind.MENU_ENTERED, {"menu": "main", "language": "de"}),
        lambda: j.event(call_id, EventKind.DIGIT, {"menu": "main", "digits": "1"}),
        lambda: (
            j.update(call_id, CallUpdate(department="sales", language="de"))
            or j.update(call_id, CallUpdate(queued_at=utcnow()))
            or j.event(call_id, EventKind.QUEUED, {"department": "sales"})
        ),
        lambda: j.event(call_id, EventKind.AGENT_RUNG, {"agent": "PJSIP/1001"}),
        lambda: (
            j.update(call_id, CallUpdate(agent_endpoint="PJSIP/1001", agent_answered_at=utcnow()))
            or j.event(call_id, EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"})
            or j.event(call_id, EventKind.RECORDING_STARTED, {"name": call_id})
        ),
        lambda: (
            j.event(call_id, EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"})
            or j.recording_finished(FinishedRecording(call_id, call_id, "wav"))
        ),
        lambda: (
            j.event(call_id, EventKind.HANGUP, {"state": "Queue"})
            or j.finished(call_id, Hangup(Outcome.ANSWERED, utcnow(), 16, "Normal Clearing"))
        ),
    ]
    for step in steps:
        step()
        await asyncio.sleep(GAP)


async def _measure(backend: str, folder: Path) -> dict[str, float]:
    from sqlalchemy import event

    from zentrale.calls.store import CallStore
    from zentrale.recording.store import RecordingStore
    from zentrale.telephony.journal import Journal
    from zentrale.testing.databases import fresh_database, migrated_database

    counts = {"statements": 0, "commits": 0}

    def statement(*_args: object) -> None:
        counts["statements"] += 1

    def commit(*_args: object) -> None:
        counts["commits"] += 1

    with fresh_database(backend, folder, prefix="zentrale_bench") as url:
        async with migrated_database(url) as db:
            event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
            event.listen(db.engine.sync_engine, "commit", commit)
            counts["statements"] = counts["commits"] = 0
            calls = CallStore(db)
            journal = Journal(calls, RecordingStore(db))
            journal.start()
            tasks = []
            cpu, wall = time.process_time(), time.perf_counter()
            for number in range(CALLS):
                tasks.append(asyncio.create_task(_one_call(journal, number)))
                await asyncio.sleep(1 / RATE)
            await asyncio.gather(*tasks)
            await journal.flush()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            statements, commits = counts["statements"], counts["commits"]
            await journal.close()
            events = [len(await calls.events(f"bench-{n:06d}")) for n in range(CALLS)]
            ended = [(await calls.get(f"bench-{n:06d}")).ended_at for n in range(CALLS)]
    complete = all(count == 11 for count in events) and all(ended)
    return {
        "cpu_ms_per_call": 1000 * cpu / CALLS,
        "wall_s": wall,
        "complete": complete,
        "statements_per_call": statements / CALLS,
        "transactions_per_call": commits / CALLS,
    }


def _round_main(backend: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as folder:
        figures = asyncio.run(_measure(backend, Path(folder)))
    print(json.dumps(figures))


def main() -> None:
    """Alternate rounds of this tree and the baseline tree; print a table and the JSON line."""
    backend = os.environ.get("BENCH_JOURNAL_DB", "sqlite")
    trees = {"this": str(HERE)}
    if baseline := os.environ.get("BENCH_JOURNAL_BASELINE"):
        trees["baseline"] = baseline
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    order = list(trees)
    for number in range(ROUNDS):
        for name in order if number % 2 == 0 else order[::-1]:
            figures = _round(trees[name], backend)
            results[name].append(figures)
            print(
                f"round {number + 1} {name:8} {figures['cpu_ms_per_call']:7.1f} ms/call"
                f"  {figures.get('statements_per_call', 0):5.1f} statements"
                f"  {figures.get('transactions_per_call', 0):4.2f} transactions"
                f"  complete={figures['complete']}",
                flush=True,
            )
    medians = {
        name: round(statistics.median(r["cpu_ms_per_call"] for r in rounds), 1)
        for name, rounds in results.items()
    }
    this = medians["this"]
    line = {
        "bench": "journal",
        "figures": {
            "backend": backend,
            "calls_per_round": CALLS,
            "rounds": ROUNDS,
            "cpu_ms_per_call_median": this,
            "cpu_ms_per_call": [round(r["cpu_ms_per_call"], 1) for r in results["this"]],
            "statements_per_call": round(results["this"][-1]["statements_per_call"], 1),
            "transactions_per_call": round(results["this"][-1]["transactions_per_call"], 2),
            "complete": all(r["complete"] for r in results["this"]),
        },
        "baseline": {
            name: {
                "cpu_ms_per_call_median": medians[name],
                "cpu_ms_per_call": [round(r["cpu_ms_per_call"], 1) for r in results[name]],
                "statements_per_call": round(results[name][-1]["statements_per_call"], 1),
                "ratio_this_to_baseline": round(this / medians[name], 3),
            }
            for name in results
            if name != "this"
        },
        "targets": {
            f"journal cpu per call < {TARGET_MS} ms": this < TARGET_MS,
            "every call's row and timeline complete": all(
                r["complete"] for rounds in results.values() for r in rounds
            ),
        },
    }
    print(json.dumps(line))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--round":
        _round_main(sys.argv[2])
    else:
        main()
