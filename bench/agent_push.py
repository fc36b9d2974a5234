"""Benchmark: screen pops to signed-in agents, from a call's StasisStart to the agent's browser
connection, beside a bare HTTP round trip to the same server.

Method. One sandbox Asterisk ("bench-agents") and one daemon (in this process, SQLite, no
recording) on rules whose entry rule sends every caller straight to a department of AGENTS
simulated agents (`Local/Q<n>@sim-agent/n`, round robin, each answering after 0.2 s; callers
hang up after 3 s). AGENTS agent accounts are created, each with its own token, and each opens
the workspace's event stream (`GET /api/agent/events`) over HTTP on loopback, as a browser's
EventSource does, from a second process (this script with `--follow`). Then CALLS simulated
customers call, one every GAP seconds. For every pop the stream delivers, the figure is the
time from the StasisStart event of that call
(as the daemon's ARI client dispatched it) to the moment the bench read the `ringing` event off
that agent's connection. Between calls the bench times `GET /api/health` on the same server
(ROUND_TRIPS in all). Both processes read `time.perf_counter`, the machine's monotonic clock.
The daemon's log lines go to stderr as in production (redirect them to measure without a
terminal). Prints p50/p99 and the last line is one JSON object; exits 0 even when the target
(p99 < 100 ms) is missed. Usage: `.venv/bin/python bench/agent_push.py [AGENTS] [CALLS]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from zentrale.config.settings import (
    DatabaseSettings,
    HttpSettings,
    KeySettings,
    PromptSettings,
    RecipientSettings,
    RecordingSettings,
    RoutingSettings,
    Settings,
    StorageSettings,
)
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.service import settle_heap
from zentrale.telephony.ari.events import StasisStart

_ARGS = [arg for arg in sys.argv[1:] if arg.isdigit()]
AGENTS = int(_ARGS[0]) if _ARGS else 200
CALLS = int(_ARGS[1]) if len(_ARGS) > 1 else 40
GAP = 0.5
ROUND_TRIPS = 200
TARGET_P99_MS = 100.0
REPEATS: list[str] = []
"""Calls whose pop reached the agent again (the stream reconnected while it rang): not timed."""


def rules(agents: int) -> str:
    """Return routing rules: everyone straight to one department of AGENTS agents."""
    listed = "\n".join(
        f'      - {{endpoint: "Local/Q{n}@sim-agent/n", name: "Q{n}"}}' for n in range(agents)
    )
    return f"""
version: 1
timezone: Europe/Istanbul
languages: {{available: [en], default: en, fallback: en}}
prompts: {{bye: sound:vm-goodbye}}
announcements: {{}}
departments:
  desk:
    agents:
{listed}
    strategy: round_robin
    ring_timeout: 5s
    max_wait: 30s
    on_max_wait: {{play_and_hangup: bye}}
    recording: false
entry_rules:
  - {{name: everyone, action: {{department: desk}}}}
"""


def settings(home: Path, agents: int) -> Settings:
    """Daemon settings in HOME: SQLite, local storage and keys, rules of AGENTS agents."""
    rules_file = home / "routing.yaml"
    rules_file.write_text(rules(agents))
    return Settings(
        state_dir=home,
        routing=RoutingSettings(file=rules_file, history_dir=home / "history"),
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{home}/z.db")),
        http=HttpSettings(port=0),
        prompts=PromptSettings(dir=home / "prompts"),
        recording=RecordingSettings(temp_dir=home / "tmp"),
        storage=StorageSettings(path=home / "recordings"),
        keys=KeySettings(
            recipients=(RecipientSettings(provider="local", keyring_file=home / "keyring.json"),)
        ),
    )


async def tokens(daemon: Daemon, agents: int) -> list[str]:
    """Create AGENTS agent accounts (one per simulated agent) and return their tokens."""
    users = UserStore(daemon.db)
    found = []
    for n in range(agents):
        user = await users.add(
            NewUser(
                username=f"q{n}",
                display_name=f"Q{n}",
                password="a long password 1",
                role=Role.AGENT,
                departments=("desk",),
                agent_endpoint=f"Local/Q{n}@sim-agent/n",
            )
        )
        found.append((await users.issue_token(user.id, "bench", 1)).secret)
    return found


async def follow(url: str, token: str) -> None:
    """Follow one agent's event stream, printing `<call id> <perf_counter>` for every pop."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=None) as http:
        while True:
            async with http.stream("GET", "/api/agent/events", headers=headers) as stream:
                event = ""
                print("open", 0, flush=True)  # the stream's head came: it follows the agent
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: ") and event == "ringing":
                        now = time.perf_counter()
                        print(json.loads(line[6:])["call_id"], now, flush=True)


async def followers(url: str, tokens: list[str]) -> None:
    """The child process: follow every agent's stream."""
    await asyncio.gather(*(follow(url, token) for token in tokens))


def percentile(values: list[float], share: float) -> float:
    """Return the SHARE percentile of VALUES (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(asterisk: SandboxInstance, home: Path) -> dict[str, Any]:
    """Run the bench against ASTERISK with a daemon in HOME; return the figures."""
    async with Daemon.running(settings(home, AGENTS), credentials=asterisk.ari) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        started: dict[str, float] = {}

        async def stasis(event: StasisStart) -> None:
            if event.args[:1] == ["inbound"]:
                started[event.channel.id] = time.perf_counter()

        daemon.ari.on(StasisStart, stasis)
        if "--no-freeze" not in sys.argv:
            settle_heap()  # as `zentrale run` does once started
        for n in range(AGENTS):
            await script_party(asterisk.ari, "agent", f"Q{n}", PartyScript(answer_after=0.2))
        secrets = await tokens(daemon, AGENTS)
        (home / "tokens").write_text("\n".join(secrets))
        # The agents' connections live in another process (perf_counter is the machine's
        # monotonic clock, the same in both), so their client work does not load the daemon's
        # event loop as it would in this one.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--follow",
            daemon.http_url,
            str(home / "tokens"),
            stdout=asyncio.subprocess.PIPE,
        )
        seen: list[float] = []
        opened = asyncio.Event()
        reader = asyncio.create_task(_read(child, daemon, started, seen, opened))
        trips: list[float] = []
        async with httpx.AsyncClient(base_url=daemon.http_url, timeout=30) as http:
            # Every stream open before the first call (a pop to a stream not yet open is lost;
            # a fixed 5 s wait lost 5-11 of 40 on a loaded machine).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(opened.wait(), 120)
            await asyncio.sleep(1.0)
            for _ in range(CALLS):
                await place_call(
                    asterisk.ari, did="100", caller="+905551112233", script=_customer()
                )
                for _ in range(ROUND_TRIPS // CALLS):
                    began = time.perf_counter()
                    (await http.get("/api/health")).raise_for_status()
                    trips.append(time.perf_counter() - began)
                await asyncio.sleep(GAP)
            await _settle(daemon, seen)
        child.kill()
        await child.wait()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return _figures(seen, trips)


async def _read(
    child: asyncio.subprocess.Process,
    daemon: Daemon,
    started: dict[str, float],
    seen: list[float],
    opened: asyncio.Event,
) -> None:
    """Match the child's pop receipts to their calls' StasisStart; set OPENED once every
    agent's stream is open."""
    assert child.stdout is not None
    channels: dict[str, str] = {}  # call id -> the caller's channel, kept after the call ends
    watcher = asyncio.create_task(_watch(daemon, channels))
    streams = 0
    popped: set[str] = set()
    try:
        while line := await child.stdout.readline():
            call_id, at = line.decode().split()
            if call_id == "open":
                streams += 1
                if streams >= AGENTS:
                    opened.set()
                continue
            if call_id in popped:  # a stream that reconnected while the call rang is told again
                REPEATS.append(call_id)
                continue
            channels.update({key: call.call.id for key, call in daemon.center.active.items()})
            channel = channels.get(call_id)
            if channel in started:
                popped.add(call_id)
                seen.append(float(at) - started[channel])
    finally:
        watcher.cancel()


async def _watch(daemon: Daemon, channels: dict[str, str]) -> None:
    """Remember every active call's channel, so late receipts still find their call."""
    while True:
        channels.update({key: call.call.id for key, call in daemon.center.active.items()})
        await asyncio.sleep(0.01)


def _customer() -> CustomerScript:
    return CustomerScript(talk=0, then="wait", hangup_after=3)


async def _settle(daemon: Daemon, seen: list[float]) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while daemon.center.active or len(seen) < CALLS:  # noqa: ASYNC110 (bench polling)
                await asyncio.sleep(0.2)


def _figures(seen: list[float], trips: list[float]) -> dict[str, Any]:
    ms = [value * 1000 for value in seen]
    rtt = [value * 1000 for value in trips]
    figures: dict[str, Any] = {
        "agents": AGENTS,
        "calls": CALLS,
        "pops": len(ms),
        "pops_told_again": len(REPEATS),
        "pop_p50_ms": round(statistics.median(ms), 1) if ms else None,
        "pop_p90_ms": round(percentile(ms, 0.90), 1) if ms else None,
        "pop_p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
        "pops_ms_in_order": [round(value) for value in ms],
        "http_p50_ms": round(statistics.median(rtt), 2) if rtt else None,
        "http_p99_ms": round(percentile(rtt, 0.99), 2) if rtt else None,
    }
    figures["target_met"] = bool(ms) and figures["pop_p99_ms"] < TARGET_P99_MS
    return figures


def main() -> None:
    """Start the sandbox, run the bench, print the figures."""
    if sys.argv[1:2] == ["--follow"]:
        asyncio.run(followers(sys.argv[2], Path(sys.argv[3]).read_text().split()))
        return
    root = ensure_root()
    asterisk = SandboxInstance(root, name="bench-agents", app="zentrale-bench-agents")
    asterisk.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-agents-") as home:
            figures = asyncio.run(run(asterisk, Path(home)))
    finally:
        asterisk.stop()
        asterisk.remove()
    print(
        f"{figures['agents']} agents following, {figures['pops']} pops of {figures['calls']} "
        f"calls ({figures['pops_told_again']} told again after a stream reconnected, not timed): "
        f"StasisStart to pop p50 {figures['pop_p50_ms']} ms, p99 {figures['pop_p99_ms']} "
        f"ms (target p99 < {TARGET_P99_MS:.0f} ms), each in order {figures['pops_ms_in_order']};"
        f" bare HTTP round trip p50 "
        f"{figures['http_p50_ms']} ms, p99 {figures['http_p99_ms']} ms"
    )
    pop_p99 = figures["pop_p99_ms"]
    line = {
        "bench": "agent_push",
        "figures": {
            k: figures[k]
            for k in (
                "agents",
                "calls",
                "pops",
                "pops_told_again",
                "pop_p50_ms",
                "pop_p90_ms",
                "pop_p99_ms",
            )
        },
        "baseline": {"http_p50_ms": figures["http_p50_ms"], "http_p99_ms": figures["http_p99_ms"]},
        "targets": {
            f"pop_p99_ms < {TARGET_P99_MS:.0f}": pop_p99 is not None and pop_p99 < TARGET_P99_MS,
            "pops == calls": figures["pops"] == figures["calls"],
        },
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
