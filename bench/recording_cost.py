"""Benchmark: Asterisk's CPU per call for the ways a two-party conversation can be recorded.

Method. One sandbox Asterisk ("bench-reccost"). Each method takes a round of calls at RATE
calls per second for WINDOW seconds; both parties are simulated agents (`sim-agent`, answer at
once, speak `hello-world` for TALK seconds, hang up), so both directions carry audio. The
rounds run twice, the second pass in reverse order, and the figure of a method is the
Asterisk CPU (utime+stime from /proc) of its two rounds over their calls, from the first call
until Asterisk holds no channel.

- dialplan-none: `Dial` with no recording (the [bench-recording] context of the sandbox).
- dialplan-mixmonitor: `MixMonitor(file)` then `Dial`: one mixed file.
- dialplan-mixmonitor-rt: `MixMonitor(file,r(..)t(..))`: the mixed file plus each direction.
- ari-none: the two parties in an ARI mixing bridge, no recording.
- ari-bridge-record: mixing bridge and `POST /bridges/{id}/record` (zentrale's default).
- ari-snoop-per-party: mixing bridge, a snoop channel (`spy=in`) per party, each recorded
  (zentrale's `two_party`).
- ari-channel-record: mixing bridge, `POST /channels/{id}/record` on each party's channel (a
  failed request is counted: Asterisk may refuse it for a bridged channel).

What each gives (printed with the figures): parties apart, pause controllable from ARI.
The machine may be shared: each round reports the CPU other processes used meanwhile
(`machine_busy_elsewhere`); that slows all methods alike but makes the figures pessimistic.

Ends with one JSON line; exits 0 even when a target is missed. BENCH_RECCOST_QUICK=1: short
rounds, one pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.simulate import PartyScript, script_party

QUICK = os.environ.get("BENCH_RECCOST_QUICK") == "1"
RATE = 2.0
WINDOW = 5.0 if QUICK else 15.0
TALK = 6
POOL = 40  # party ids per side (more than the calls at once: RATE x (TALK + 2))
SETTLE_LIMIT = 60.0
BUSY_MACHINE = 0.25
CLK_TCK = os.sysconf("SC_CLK_TCK")
APP = "reccost"

# method: (parties apart, pause from ARI, what it is)
METHODS: dict[str, tuple[bool, bool, str]] = {
    "dialplan-none": (False, False, "Dial, no recording"),
    "dialplan-mixmonitor": (False, False, "Dial + MixMonitor: one mixed file"),
    "dialplan-mixmonitor-rt": (True, False, "MixMonitor r()/t(): mixed + each direction"),
    "ari-none": (False, False, "ARI mixing bridge, no recording"),
    "ari-bridge-record": (False, True, "mixing bridge + bridge recording: one mixed file"),
    "ari-snoop-per-party": (True, True, "mixing bridge + snoop (spy=in) per party, recorded"),
    # Asterisk accepts the request (201) but writes nothing while the channel is bridged.
    "ari-channel-record": (False, False, "bridge + POST /channels/{id}/record: no file"),
}


def cpu_seconds(pid: int) -> float:
    """Return utime+stime of PID in seconds, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def host_busy_seconds() -> float:
    """Return the CPU seconds all processors spent busy since boot, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK


def own_seconds() -> float:
    """CPU seconds of this process."""
    times = os.times()
    return times.user + times.system


@dataclass
class Result:
    """One method's rounds."""

    method: str
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    asterisk_cpu: float = 0.0
    others_cpu: float = 0.0
    seconds: float = 0.0
    files: int = 0

    def figures(self) -> dict[str, object]:
        apart, pause, what = METHODS[self.method]
        return {
            "asterisk_cpu_ms_per_call": round(self.asterisk_cpu / max(self.calls, 1) * 1000, 1),
            "calls": self.calls,
            "failures": len(self.failures),
            "first_failure": self.failures[0] if self.failures else None,
            "recording_files": self.files,
            "parties_apart": apart,
            "pause_from_ari": pause,
            "what": what,
            "machine_busy_elsewhere": self.others_cpu / max(self.seconds, 0.1) > BUSY_MACHINE,
        }


@dataclass
class Events:
    """StasisStart/StasisEnd of the bench's channels, read from the app's WebSocket."""

    started: dict[str, asyncio.Event] = field(default_factory=dict)
    ended: dict[str, asyncio.Event] = field(default_factory=dict)

    def start_of(self, channel_id: str) -> asyncio.Event:
        return self.started.setdefault(channel_id, asyncio.Event())

    def end_of(self, channel_id: str) -> asyncio.Event:
        return self.ended.setdefault(channel_id, asyncio.Event())

    async def read(self, url: str) -> None:
        async with websockets.connect(url, max_size=None) as socket:
            async for message in socket:
                event = json.loads(message)
                channel = event.get("channel", {}).get("id")
                if channel is None:
                    continue
                if event.get("type") == "StasisStart":
                    self.start_of(channel).set()
                elif event.get("type") == "StasisEnd":
                    self.end_of(channel).set()


@dataclass
class Bench:
    asterisk: SandboxInstance
    http: httpx.AsyncClient
    events: Events
    round_number: int = 0

    async def ari_call(self, method: str, index: int, failures: list[str]) -> None:
        """Two parties into the app, a mixing bridge, the method's recording; wait for the end."""
        tag = f"{self.round_number:02d}-{index:03d}-{uuid.uuid4().hex[:6]}"
        parties = [f"rca-{tag}", f"rcb-{tag}"]
        idents = [f"RA{index % POOL:03d}", f"RB{index % POOL:03d}"]
        bridge = f"rcbr-{tag}"
        try:
            for channel, ident in zip(parties, idents, strict=True):
                params = {"endpoint": f"Local/{ident}@sim-agent/n", "app": APP}
                await self.post("/channels", params | {"channelId": channel})
            async with asyncio.timeout(20):
                for channel in parties:
                    await self.events.start_of(channel).wait()
            await self.post("/bridges", {"type": "mixing", "bridgeId": bridge})
            await self.post(f"/bridges/{bridge}/addChannel", {"channel": ",".join(parties)})
            if method == "ari-bridge-record":
                await self.post(f"/bridges/{bridge}/record", {"name": bridge, "format": "wav"})
            elif method == "ari-snoop-per-party":
                for channel in parties:
                    snoop = f"snoop-{channel}"
                    params = {"spy": "in", "app": APP, "snoopId": snoop}
                    await self.post(f"/channels/{channel}/snoop", params)
                    async with asyncio.timeout(10):  # recording wants it in the app first
                        await self.events.start_of(snoop).wait()
                    await self.post(f"/channels/{snoop}/record", {"name": snoop, "format": "wav"})
            elif method == "ari-channel-record":
                for channel in parties:
                    await self.post(
                        f"/channels/{channel}/record", {"name": channel, "format": "wav"}
                    )
            async with asyncio.timeout(TALK + 30):
                for channel in parties:
                    await self.events.end_of(channel).wait()
        except (httpx.HTTPError, TimeoutError) as error:
            failures.append(f"{type(error).__name__}: {error}"[:200])
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await self.http.delete(f"/bridges/{bridge}")

    async def dialplan_call(self, method: str, index: int, failures: list[str]) -> None:
        """A caller (sim-agent RA) into [bench-recording], which dials sim-agent RB."""
        params = {
            "endpoint": f"Local/RB{index % POOL:03d}@bench-recording/n",
            "context": "sim-agent",
            "extension": f"RA{index % POOL:03d}",
            "priority": "1",
            "timeout": "30",
        }
        body = {"variables": {"REC_METHOD": method.removeprefix("dialplan-")}}
        try:
            reply = await self.http.post("/channels", params=params, json=body)
            reply.raise_for_status()
        except httpx.HTTPError as error:
            failures.append(f"{type(error).__name__}: {error}"[:200])

    async def post(self, path: str, params: dict[str, str]) -> None:
        reply = await self.http.post(path, params=params)
        reply.raise_for_status()

    async def channels_gone(self) -> None:
        started = time.monotonic()
        while time.monotonic() - started < SETTLE_LIMIT:
            with contextlib.suppress(httpx.HTTPError):
                if not (await self.http.get("/channels")).json():
                    return
            await asyncio.sleep(0.25)

    def recording_files(self) -> int:
        """Count the audio files Asterisk wrote so far (ARI recordings and MixMonitor's)."""
        return sum(1 for path in self.asterisk.home.rglob("*.wav") if path.is_file())

    async def round(self, method: str) -> Result:
        """Offer RATE calls per second for WINDOW seconds with METHOD; measure Asterisk's CPU."""
        self.round_number += 1
        result = Result(method)
        pid = self.asterisk.pid()
        assert pid is not None
        files_before = await asyncio.to_thread(self.recording_files)
        cpu, host, own, started = (
            cpu_seconds(pid),
            host_busy_seconds(),
            own_seconds(),
            time.monotonic(),
        )
        place = self.ari_call if method.startswith("ari-") else self.dialplan_call
        tasks = []
        count = int(RATE * WINDOW)
        for index in range(count):
            delay = started + index / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(place(method, index, result.failures)))
        await asyncio.gather(*tasks)
        await self.channels_gone()
        result.asterisk_cpu = cpu_seconds(pid) - cpu
        result.seconds = time.monotonic() - started
        used_here = result.asterisk_cpu + own_seconds() - own
        result.others_cpu = host_busy_seconds() - host - used_here
        result.calls = count - len(result.failures)
        result.files = await asyncio.to_thread(self.recording_files) - files_before
        return result


def merge(results: list[Result]) -> dict[str, Result]:
    """Add up each method's rounds."""
    merged: dict[str, Result] = {}
    for r in results:
        total = merged.setdefault(r.method, Result(r.method))
        total.calls += r.calls
        total.failures += r.failures
        total.asterisk_cpu += r.asterisk_cpu
        total.others_cpu += r.others_cpu
        total.seconds += r.seconds
        total.files += r.files
    return merged


async def run(asterisk: SandboxInstance) -> dict[str, object]:
    creds = asterisk.ari
    secret = creds.password.get_secret_value()
    script = PartyScript(answer_after=0.0, talk=TALK, then="hangup")
    for n in range(POOL):
        for side in ("RA", "RB"):
            await script_party(creds, "agent", f"{side}{n:03d}", script)
    events = Events()
    ws_base = creds.base_url.replace("http://", "ws://")
    reader = asyncio.create_task(
        events.read(f"{ws_base}/events?app={APP}&api_key={creds.username}:{secret}")
    )
    await asyncio.sleep(1.0)  # the app is registered once the socket is open
    results = []
    try:
        async with httpx.AsyncClient(
            base_url=creds.base_url,
            auth=(creds.username, secret),
            timeout=30.0,
            limits=httpx.Limits(max_connections=8),
        ) as http:
            bench = Bench(asterisk, http, events)
            order = list(METHODS)
            passes = [order] if QUICK else [order, order[::-1]]
            for methods in passes:
                for method in methods:
                    result = await bench.round(method)
                    results.append(result)
                    print(
                        f"  {method}: {result.calls} calls, Asterisk "
                        f"{result.asterisk_cpu / max(result.calls, 1) * 1000:.1f} ms/call, "
                        f"{result.files} files, {len(result.failures)} failed",
                        flush=True,
                    )
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    return report(merge(results))


def report(merged: dict[str, Result]) -> dict[str, object]:
    figures = {method: r.figures() for method, r in merged.items()}

    def per_call(method: str) -> float:
        return merged[method].asterisk_cpu / max(merged[method].calls, 1)

    print(f"\n{'method':24} {'ms/call':>8} {'apart':>6} {'pause':>6}  what")
    for method, r in figures.items():
        print(
            f"{method:24} {r['asterisk_cpu_ms_per_call']:8.1f} {r['parties_apart']!s:>6} "
            f"{r['pause_from_ari']!s:>6}  {r['what']}"
        )
    base = per_call("dialplan-mixmonitor")
    ratios = {method: round(per_call(method) / base, 2) if base else None for method in merged}
    print(f"ratio to Dial + MixMonitor: {ratios}")
    snoop, bridge = per_call("ari-snoop-per-party"), per_call("ari-bridge-record")
    return {
        "bench": "recording_cost",
        "figures": figures | {"ratio_to_dial_mixmonitor": ratios, "talk_s": TALK, "rate": RATE},
        "baseline": {"dialplan-mixmonitor_ms_per_call": round(base * 1000, 1)},
        "targets": {
            # the issue: zentrale's Asterisk CPU per call at most 1.2 x the dialplan flow's
            "ari-bridge-record <= 1.2 x Dial+MixMonitor": bool(base) and bridge <= 1.2 * base,
            "ari-snoop-per-party <= 1.2 x Dial+MixMonitor-rt": snoop
            <= 1.2 * per_call("dialplan-mixmonitor-rt"),
        },
    }


def main() -> None:
    asterisk = SandboxInstance(ensure_root(), name="bench-reccost", app=APP)
    asterisk.start()
    try:
        result = asyncio.run(run(asterisk))
    finally:
        asterisk.stop()
        asterisk.remove()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
