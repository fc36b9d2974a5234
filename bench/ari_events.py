"""Benchmark: ARI events per second through the whole client vs a bare websockets receive loop.

A recorded-style stream (JSON lines, many interleaved calls) is replayed over loopback by the
fake ARI server running in its own process. Five runs in one invocation; each run measures the
bare websockets receive loop, the client with a raw no-op handler (parse, dispatch to
per-channel lanes) and with a typed one (pydantic models) back to back, and prints the client's
ratio to the bare loop of the same run. Then the p99 lag from frame received to handler start
at 1,000 events/s. Ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from zentrale.telephony.ari import AriClient, AriCredentials, AriOptions
from zentrale.telephony.ari.connection import basic_auth_header
from zentrale.telephony.ari.events import AriEvent
from zentrale.testing.fake_ari import channel_json

EVENTS = 60_000
LATENCY_EVENTS = 3_000
LATENCY_RATE = 1_000.0


def call_events(channel_id: str) -> list[dict[str, Any]]:
    """The events of one short IVR call, as Asterisk would send them."""
    channel = channel_json(channel_id)
    up = {**channel, "state": "Up"}
    playback = {
        "id": f"pb-{channel_id}",
        "media_uri": "sound:hello",
        "state": "playing",
        "target_uri": f"channel:{channel_id}",
        "language": "de",
    }
    return [
        {"type": "StasisStart", "args": ["inbound"], "channel": channel},
        {"type": "ChannelStateChange", "channel": up},
        {"type": "PlaybackStarted", "playback": playback},
        {"type": "PlaybackFinished", "playback": {**playback, "state": "done"}},
        {"type": "ChannelDtmfReceived", "digit": "1", "duration_ms": 120, "channel": up},
        {"type": "ChannelDtmfReceived", "digit": "2", "duration_ms": 110, "channel": up},
        {"type": "ChannelVarset", "variable": "ZENTRALE_QUEUE", "value": "sales", "channel": up},
        {"type": "ChannelHangupRequest", "cause": 16, "channel": up},
        {"type": "StasisEnd", "channel": up},
        {"type": "ChannelDestroyed", "cause": 16, "cause_txt": "Normal Clearing", "channel": up},
    ]


def write_stream(path: Path, count: int, parallel: int = 200) -> None:
    """Interleave calls ``parallel`` at a time until ``count`` events; write JSON lines."""
    lines: list[str] = []
    calls = [iter(call_events(f"bench-{n}")) for n in range(parallel)]
    serial = parallel
    while len(lines) < count:
        for index, events in enumerate(calls):
            event = next(events, None)
            if event is None:
                calls[index] = events = iter(call_events(f"bench-{serial}"))
                serial += 1
                event = next(events)
            event |= {"application": "zentrale-bench", "timestamp": "2025-01-01T00:00:00.000+0000"}
            lines.append(json.dumps(event))
    path.write_text("\n".join(lines[:count]) + "\n")


def start_fake(stream: Path, rate: float | None) -> tuple[subprocess.Popen[str], int]:
    """Start the fake ARI in its own process; return it and its port."""
    cmd = [sys.executable, "-m", "zentrale.testing.fake_ari", "--replay", str(stream)]
    if rate:
        cmd += ["--rate", str(rate)]
    # The fake's stderr is dropped: a client leaving mid-replay makes it log resets.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    port = int(json.loads(proc.stdout.readline())["port"])
    return proc, port


def credentials(port: int) -> AriCredentials:
    return AriCredentials(
        base_url=f"http://127.0.0.1:{port}/ari",
        username="zentrale",
        password="fake-secret",
        app="zentrale-bench",
    )  # type: ignore[arg-type]


async def raw_rate(port: int, count: int) -> float:
    """Events/s of a bare websockets receive loop."""
    creds = credentials(port)
    url = f"ws://127.0.0.1:{port}/ari/events?app=zentrale-bench&subscribeAll=false"
    received = 0
    async with connect(
        url,
        additional_headers={"Authorization": basic_auth_header(creds)},
        compression=None,
        max_size=None,
    ) as ws:
        start = time.perf_counter()
        async for _ in ws:
            received += 1
            if received == count:
                break
    return received / (time.perf_counter() - start)


async def client_rate(port: int, count: int, typed: bool = False) -> float:
    """Events/s through AriClient: raw no-op handler, or typed (pydantic) if ``typed``."""
    done = asyncio.Event()
    handled = 0

    async def noop(event: object) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    async with AriClient(credentials(port), AriOptions()) as ari:
        if typed:
            ari.on_any(noop)
        else:
            ari.on_raw(noop)
        await ari.wait_connected(10)
        start = time.perf_counter()
        await asyncio.wait_for(done.wait(), 120)
        return count / (time.perf_counter() - start)


async def typed_client_rate(port: int, count: int) -> float:
    """Events/s with every event validated into its pydantic model."""
    return await client_rate(port, count, typed=True)


async def lag_p99(port: int, count: int) -> float:
    """p99 seconds from frame received to handler start at a paced rate."""
    done = asyncio.Event()
    handled = 0

    async def noop(event: AriEvent) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    async with AriClient(credentials(port), AriOptions()) as ari:
        ari.on_any(noop)
        await asyncio.wait_for(done.wait(), 120)
        return ari.dispatch_stats().lag_p99


def measure(stream: Path, rate: float | None, probe: Any, count: int) -> float:
    proc, port = start_fake(stream, rate)
    try:
        return float(asyncio.run(probe(port, count)))
    finally:
        proc.terminate()
        proc.wait()


RUNS = 5
RATIO_TARGET = 0.5
TYPED_TARGET = 20_000


def one_run(stream: Path, number: int) -> dict[str, float]:
    """One run: the bare loop, the client and the typed client back to back (order rotated)."""
    probes = [("raw", raw_rate), ("client", client_rate), ("typed", typed_client_rate)]
    shift = number % len(probes)
    figures = {name: measure(stream, None, probe, EVENTS) for name, probe in probes[shift:]}
    figures |= {name: measure(stream, None, probe, EVENTS) for name, probe in probes[:shift]}
    figures["ratio"] = figures["client"] / figures["raw"]
    figures["typed_ratio"] = figures["typed"] / figures["raw"]
    return figures


def main() -> None:
    """Run the benchmark and print the figures and one JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        stream, paced = Path(tmp) / "stream.jsonl", Path(tmp) / "paced.jsonl"
        write_stream(stream, EVENTS)
        write_stream(paced, LATENCY_EVENTS)
        # RUNS runs in one invocation; each run's ratio compares the client with the bare loop
        # measured right next to it (this machine is shared: loads drift between runs).
        runs = []
        for number in range(RUNS):
            run = one_run(stream, number)
            runs.append(run)
            print(
                f"run {number + 1}: raw {run['raw']:>9,.0f}  client {run['client']:>9,.0f}"
                f"  typed {run['typed']:>9,.0f} events/s  ratio {run['ratio']:.2f}"
                f"  typed ratio {run['typed_ratio']:.2f}",
                flush=True,
            )
        p99_ms = measure(paced, LATENCY_RATE, lag_p99, LATENCY_EVENTS) * 1000
    raw, client, typed = (statistics.median(r[k] for r in runs) for k in ("raw", "client", "typed"))
    ratios = [round(r["ratio"], 3) for r in runs]
    met = sum(ratio >= RATIO_TARGET for ratio in ratios)
    typed_met = sum(r["typed"] >= TYPED_TARGET for r in runs)
    print(f"raw websockets receive loop: {raw:,.0f} events/s (median of {RUNS})")
    print(f"AriClient (parse+dispatch+raw no-op handler): {client:,.0f} events/s")
    print(f"AriClient with typed (pydantic) no-op handler: {typed:,.0f} events/s")
    print(f"ratio to the bare loop per run: {ratios} ({met}/{RUNS} at >= {RATIO_TARGET})")
    print(f"handler lag p99 at {LATENCY_RATE:,.0f} events/s: {p99_ms:.3f} ms")
    result = {
        "bench": "ari_events",
        "figures": {
            "client_events_per_s": round(client),
            "typed_client_events_per_s": round(typed),
            "ratio_to_raw_per_run": ratios,
            "typed_events_per_s_per_run": [round(r["typed"]) for r in runs],
            "typed_ratio_to_raw_per_run": [round(r["typed_ratio"], 3) for r in runs],
            "lag_p99_ms_at_1000_per_s": round(p99_ms, 3),
        },
        "baseline": {
            "raw_websockets_events_per_s": round(raw),
            "raw_websockets_events_per_s_per_run": [round(r["raw"]) for r in runs],
        },
        "targets": {
            f"ratio_to_raw >= {RATIO_TARGET} in {RUNS}/{RUNS} runs": met == RUNS,
            f"typed_client_events_per_s >= {TYPED_TARGET} in {RUNS}/{RUNS} runs": typed_met == RUNS,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
