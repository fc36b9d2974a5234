"""Soak: a steady stream of whole calls through a real `zentrale run` for a set time.

Method. One sandbox Asterisk ("bench-soak") and one `zentrale run` process (SQLite, or with
--postgres a throwaway PostgreSQL database; opus recordings, local storage and keys in a
temporary directory; `zentrale.ops.process`). The rules
are one menu (digit 1) leading to a department of AGENTS simulated agents (round robin,
recording on). Customers are placed exactly as `zentrale.sandbox.simulate.place_call` places
them, at --rate calls per second for --minutes: each presses 1 after 0.3 s and waits; the agent
answers after 0.2 s, talks --talk seconds and hangs up.

Figures: calls placed, calls completed (the daemon's `calls` row is `answered` with an end
time), recordings stored, lost (placed calls that never became a call row, plus answered calls
whose recording is not stored once the pipeline is idle; must be 0), the daemon's resident
memory (VmRSS) at start, after the warm-up (--warmup seconds of calls: the baseline) and at the
end once calls and pipeline are idle, its growth per 1,000 calls after the warm-up (overall,
and in the first and second half of the time after it: caches level off, a leak does not), and the
largest ARI event lag (`zentrale_ari_event_lag_max_seconds` from /metrics). RSS and the call
journal's backlog (writes queued for the database: a journal that falls behind holds them in
memory) are sampled every 10 s; the peaks are reported too. The machine may be shared with
other work: the lag and the journal's backlog then grow.

--s3 stores the recordings in a moto S3 server on loopback (started for the soak; the lost
count then also compares the bucket's objects with the stored rows); --two-party records caller
and agent separately into one stereo file (`recording.two_party`). --out DIR keeps the samples
as they are taken (`rss.csv`: seconds since the start, calls placed, RSS in KiB; every
--sample-seconds), and at the end the report (`report.json`) and a plot of RSS over time
(`rss.png`, drawn by `bench/plot.py`). For soaks of about two hours or more the report gives the
RSS slope (least squares, KiB per hour) of the first and the last hour after the warm-up and
their ratio: memory that levels off has a last-hour slope far below the first hour's.

Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import text

from zentrale.db.session import Database
from zentrale.ops.process import DaemonProcess, DaemonSpec, sample
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.sandbox import AriCredentials, SandboxInstance, ensure_root
from zentrale.sandbox.simulate import CustomerScript, PartyScript, script_party
from zentrale.testing.databases import fresh_database
from zentrale.testing.moto import MotoServer, start_moto_server, stop_moto_server

try:  # run as `python bench/soak.py`: bench/ is on sys.path
    import plot
except ImportError:  # imported as bench.soak
    from bench import plot

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:beep
  bye: sound:vm-goodbye
announcements: {}
departments:
  soak:
    agents:
{agents}
    strategy: round_robin
    ring_timeout: 5s
    max_wait: 60s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 0s
    recording: true
menus:
  main:
    prompt: menu
    options: {"1": {department: soak}}
    timeout: 5s
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - {name: everyone, action: {menu: main}}
"""
RSS_GROWTH_TARGET_KIB = 2048  # per 1,000 calls after the warm-up
SETTLE_LIMIT = 300.0


@dataclass
class Stream:
    """The calls placed so far and the memory samples taken meanwhile."""

    placed: int = 0
    failures: list[str] = field(default_factory=list)
    rss: list[tuple[int, int]] = field(default_factory=list)
    """(calls placed so far, daemon RSS in KiB), every 10 s."""
    journal: list[int] = field(default_factory=list)
    """Call-record writes waiting for the database, every 10 s."""
    every: float = 10.0
    """Seconds between two samples."""
    started: float = field(default_factory=time.monotonic)
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    """(seconds since the start, calls placed so far, daemon RSS in KiB), every sample."""
    csv: IO[str] | None = None

    def take(self, daemon: DaemonProcess, journal: int) -> None:
        """Record one sample (and append it to the CSV file as it is taken)."""
        rss = daemon.rss_kib()
        elapsed = round(time.monotonic() - self.started, 1)
        self.rss.append((self.placed, rss))
        self.timeline.append((elapsed, self.placed, rss))
        self.journal.append(journal)
        if self.csv is not None:
            self.csv.write(f"{elapsed},{self.placed},{rss}\n")
            self.csv.flush()


def agents(count: int) -> list[str]:
    """Return the simulated agents' ids."""
    return [f"K{index:03d}" for index in range(count)]


def rules(count: int) -> str:
    """Return the routing rules with COUNT agents."""
    lines = [f'      - {{endpoint: "Local/{a}@sim-agent/n", name: "{a}"}}' for a in agents(count)]
    return RULES.replace("{agents}", "\n".join(lines))


async def originate(http: httpx.AsyncClient, stream: Stream) -> None:
    """Place one simulated customer exactly like `place_call`."""
    script = CustomerScript(digits="1", digit_delay=0.3, then="wait")
    params = {
        "endpoint": "Local/100@zentrale-inbound/n",
        "context": "sim-customer",
        "extension": "s",
        "priority": "1",
        "callerId": '"Soak" <+905550000000>',
        "channelId": f"sim-customer-{uuid.uuid4().hex[:12]}",
        "timeout": "60",
    }
    try:
        reply = await http.post("/channels", params=params, json={"variables": script.variables()})
        reply.raise_for_status()
        stream.placed += 1
    except httpx.HTTPError as error:
        stream.failures.append(repr(error))


async def place_steadily(
    http: httpx.AsyncClient, daemon: DaemonProcess, rate: float, seconds: float, stream: Stream
) -> None:
    """Place calls at RATE per second for SECONDS, sampling the daemon's RSS meanwhile."""
    started = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()
    index, next_sample = 0, started
    while (now := time.monotonic()) - started < seconds:
        if now >= next_sample:
            samples = await asyncio.to_thread(daemon.metrics)
            stream.take(daemon, int(sample(samples, "zentrale_journal_backlog")))
            next_sample += stream.every
        task = asyncio.create_task(originate(http, stream))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        index += 1
        await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
    await asyncio.gather(*tasks)


async def settle(http: httpx.AsyncClient, daemon: DaemonProcess) -> float:
    """Wait until no channel, call, journal write or pipeline job is left; return seconds."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_LIMIT:
        with contextlib.suppress(httpx.HTTPError):
            channels = (await http.get("/channels")).json()
            samples = await asyncio.to_thread(daemon.metrics)
            idle = (
                sample(samples, "zentrale_active_calls") == 0
                and sample(samples, "zentrale_journal_backlog") == 0
                and sample(samples, "zentrale_pipeline_backlog") == 0
            )
            if not channels and idle:
                break
        await asyncio.sleep(1.0)
    return time.monotonic() - started


COUNTS = {
    "calls": "SELECT count(*) FROM calls",
    "completed": "SELECT count(*) FROM calls WHERE outcome = 'answered' AND ended_at IS NOT NULL",
    "recordings_stored": "SELECT count(*) FROM recordings WHERE state = 'stored'",
    "answered_without_stored_recording": (
        "SELECT count(*) FROM calls c WHERE c.outcome = 'answered' AND NOT EXISTS"
        " (SELECT 1 FROM recordings r WHERE r.call_id = c.id AND r.state = 'stored')"
    ),
}


async def outcomes(url: str) -> dict[str, int]:
    """Count calls, completed calls, stored recordings and answered calls without one."""
    async with Database.open(url) as db, db.read() as session:
        return {name: int(await session.scalar(text(sql)) or 0) for name, sql in COUNTS.items()}


@dataclass
class SoakSpec(DaemonSpec):
    """The daemon's settings, with two-party (stereo) recordings when asked."""

    two_party: bool = False

    def settings(self) -> dict[str, Any]:
        """Return the settings file's content."""
        settings = super().settings()
        settings["recording"]["two_party"] = self.two_party
        return settings


BUCKET = "zentrale-soak"


def bucket_objects(moto: MotoServer) -> int:
    """Count the recordings' objects in the soak's bucket."""
    client = make_client("s3", ClientSettings(endpoint_url=moto.endpoint_url))
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sum(len(page.get("Contents", [])) for page in pages)
    finally:
        client.close()


def slope_kib_per_hour(points: list[tuple[float, int, int]]) -> float:
    """Least-squares slope of RSS over time, in KiB per hour (0 with fewer than 2 points)."""
    if len(points) < 2:
        return 0.0
    xs = [t / 3600 for t, _n, _r in points]
    ys = [float(r) for _t, _n, r in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def hourly_slopes(timeline: list[tuple[float, int, int]], warmup: float) -> dict[str, float]:
    """The RSS slope of the first and the last hour after the warm-up (for soaks of 2 h+)."""
    main = [p for p in timeline if p[0] >= warmup]
    if not main or main[-1][0] - main[0][0] < 7000:
        return {}
    start, end = main[0][0], main[-1][0]
    first = slope_kib_per_hour([p for p in main if p[0] <= start + 3600])
    last = slope_kib_per_hour([p for p in main if p[0] >= end - 3600])
    ratio = last / first if first > 0 else float("nan")
    return {
        "rss_slope_first_hour_kib_per_h": round(first, 1),
        "rss_slope_last_hour_kib_per_h": round(last, 1),
        "rss_slope_last_vs_first": round(ratio, 3),
    }


async def soak(
    asterisk: SandboxInstance, home: Path, args: argparse.Namespace
) -> dict[str, object]:
    """Run the soak against ASTERISK and return the report."""
    creds: AriCredentials = asterisk.ari
    url = args.database_url or f"sqlite+aiosqlite:///{home}/z.db"
    storage = None
    if args.moto is not None:
        storage = {"kind": "s3", "s3": {"bucket": BUCKET, "endpoint_url": args.moto.endpoint_url}}
    spec = SoakSpec(
        home,
        creds,
        rules(args.agents),
        database_url=url,
        storage=storage,
        recording_format="opus",
        two_party=args.two_party,
    )
    daemon = DaemonProcess(spec)
    daemon.start()
    stream = Stream(every=args.sample_seconds, csv=args.csv)
    auth = (creds.username, creds.password.get_secret_value())
    try:
        await asyncio.to_thread(daemon.wait_ready)
        async with httpx.AsyncClient(base_url=creds.base_url, auth=auth, timeout=30.0) as http:
            script = PartyScript(answer_after=0.2, talk=args.talk, then="hangup")
            for ident in agents(args.agents):
                await script_party(creds, "agent", ident, script)
            rss_start = daemon.rss_kib()
            await place_steadily(http, daemon, args.rate, args.warmup, stream)
            warm_calls, rss_warm = stream.placed, daemon.rss_kib()
            await place_steadily(http, daemon, args.rate, args.minutes * 60, stream)
            settled = await settle(http, daemon)
            rss_end = daemon.rss_kib()
            lag = sample(
                await asyncio.to_thread(daemon.metrics), "zentrale_ari_event_lag_max_seconds"
            )
    finally:
        code = daemon.stop(120)
    counts = await outcomes(url)
    lost = (stream.placed - counts["calls"]) + counts["answered_without_stored_recording"]
    if args.moto is not None:
        counts["objects_in_bucket"] = await asyncio.to_thread(bucket_objects, args.moto)
        lost += abs(counts["recordings_stored"] - counts["objects_in_bucket"])
    stream.timeline.append((round(time.monotonic() - stream.started, 1), stream.placed, rss_end))
    after_warmup = max(1, stream.placed - warm_calls)
    growth = (rss_end - rss_warm) * 1000 / after_warmup
    # Split the time after the warm-up in two: memory that is still filling caches grows in
    # the first half and levels off in the second; a leak grows in both alike.
    main = [(n, rss) for n, rss in stream.rss if n > warm_calls] + [(stream.placed, rss_end)]
    mid_calls, mid_rss = main[len(main) // 2]
    first = (mid_rss - rss_warm) * 1000 / max(1, mid_calls - warm_calls)
    second = (rss_end - mid_rss) * 1000 / max(1, stream.placed - mid_calls)
    figures = {
        "minutes": args.minutes,
        "rate": args.rate,
        "database": url.split("+", 1)[0],
        "storage": "s3" if args.moto is not None else "local",
        "two_party": args.two_party,
        "placed": stream.placed,
        "place_failures": len(stream.failures),
        **counts,
        "lost": lost,
        "rss_start_kib": rss_start,
        "rss_end_kib": rss_end,
        "rss_peak_kib": max([rss for _t, rss in stream.rss] + [rss_end]),
        "rss_growth_kib_per_1000_calls": round(growth, 1),
        "rss_growth_first_half_kib_per_1000_calls": round(first, 1),
        "rss_growth_second_half_kib_per_1000_calls": round(second, 1),
        "largest_journal_backlog": max(stream.journal, default=0),
        "largest_event_lag_s": round(lag, 4),
        "settle_s": round(settled, 1),
        "exit_code": code,
        **hourly_slopes(stream.timeline, args.warmup),
    }
    print_human(figures, rss_warm, warm_calls)
    if args.out is not None:
        plot.write_png(
            args.out / "rss.png",
            [(t / 60, r / 1024) for t, _n, r in stream.timeline],
            title="zentrale run: RSS (MiB) over minutes",
        )
    return {
        "bench": "soak",
        "figures": figures,
        "baseline": {"rss_after_warmup_kib": rss_warm, "warmup_calls": warm_calls},
        "targets": {
            "lost == 0": lost == 0,
            f"rss_growth_kib_per_1000_calls <= {RSS_GROWTH_TARGET_KIB}": growth
            <= RSS_GROWTH_TARGET_KIB,
            f"rss_growth_second_half_kib_per_1000_calls <= {RSS_GROWTH_TARGET_KIB}": second
            <= RSS_GROWTH_TARGET_KIB,
            "exit_code == 0": code == 0,
        },
    }


def print_human(figures: dict[str, object], rss_warm: int, warm_calls: int) -> None:
    """Print the figures for a reader."""
    print(f"soak: {figures['minutes']} min at {figures['rate']} calls/s")
    print(
        f"  placed {figures['placed']} (originate failures {figures['place_failures']}),"
        f" call rows {figures['calls']}, completed {figures['completed']}"
    )
    print(f"  recordings stored {figures['recordings_stored']}, lost {figures['lost']}")
    print(
        f"  daemon RSS: start {figures['rss_start_kib']} KiB, after warm-up ({warm_calls}"
        f" calls) {rss_warm} KiB, end {figures['rss_end_kib']} KiB,"
        f" peak {figures['rss_peak_kib']} KiB"
    )
    print(
        f"  RSS growth after warm-up: {figures['rss_growth_kib_per_1000_calls']} KiB"
        f" per 1,000 calls (first half {figures['rss_growth_first_half_kib_per_1000_calls']},"
        f" second half {figures['rss_growth_second_half_kib_per_1000_calls']})"
    )
    print(
        f"  largest ARI event lag {figures['largest_event_lag_s']} s; largest journal backlog"
        f" {figures['largest_journal_backlog']} writes;"
        f" idle {figures['settle_s']} s after the last call; exit {figures['exit_code']}"
    )


def main() -> None:
    """Parse the options, run the soak on a fresh sandbox instance, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--rate", type=float, default=1.0, help="calls per second (default 1)")
    parser.add_argument("--warmup", type=float, default=30.0, help="warm-up seconds (30)")
    parser.add_argument("--agents", type=int, default=12, help="simulated agents (12)")
    parser.add_argument("--talk", type=int, default=3, help="seconds each call talks (3)")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL database, not SQLite"
    )
    parser.add_argument("--s3", action="store_true", help="store in a moto S3 server on loopback")
    parser.add_argument("--two-party", action="store_true", help="stereo two-party recordings")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS samples (10)")
    parser.add_argument("--out", type=Path, help="keep rss.csv, report.json and rss.png here")
    args = parser.parse_args()
    asterisk = SandboxInstance(ensure_root(), name="bench-soak", app="zentrale-soak")
    home = Path(tempfile.mkdtemp(prefix="zentrale-soak-"))
    asterisk.start()
    try:
        with contextlib.ExitStack() as stack:
            args.database_url, args.moto, args.csv = None, None, None
            if args.postgres:
                args.database_url = stack.enter_context(
                    fresh_database("postgresql", home, "zentrale_soak")
                )
            if args.s3:
                args.moto = start_s3(stack)
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                args.csv = stack.enter_context((args.out / "rss.csv").open("w"))
                args.csv.write("seconds,placed,rss_kib\n")
            result = asyncio.run(soak(asterisk, home, args))
    finally:
        asterisk.stop()
        asterisk.remove()
        shutil.rmtree(home, ignore_errors=True)
    if args.out is not None:
        (args.out / "report.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


def start_s3(stack: contextlib.ExitStack) -> MotoServer:
    """Start a moto S3 server with the soak's bucket; the daemon inherits the test keys."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "testing"
    moto = start_moto_server()
    stack.callback(stop_moto_server, moto)
    client = make_client("s3", ClientSettings(endpoint_url=moto.endpoint_url))
    client.create_bucket(Bucket=BUCKET)
    client.close()
    return moto


if __name__ == "__main__":
    main()
