"""`zentrale demo`: the main job on the embedded defaults, end to end, in one command.

Starts the sandbox Asterisk (building its root the first time), connects zentrale to it over
ARI, places a few simulated customer calls, lets the call flow answer, announce, record and
collect a digit, then prints what happened to each call and what Asterisk recorded.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass

from zentrale.config.logging import mask_number
from zentrale.config.settings import Settings
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.simulate import CustomerScript, place_call
from zentrale.telephony.ari import AriClient
from zentrale.telephony.welcome import CallReport, welcome_flow

Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoCaller:
    """One simulated customer of the demo."""

    caller: str
    did: str
    script: CustomerScript


DEMO_CALLERS = (
    # Digits after the 2.3 s consent notice, then speech that the recording keeps.
    DemoCaller("+905551112233", "908502220000", CustomerScript(digits="1", digit_delay=3, talk=4)),
    DemoCaller("+4915112345678", "908502220001", CustomerScript(digits="2", digit_delay=3, talk=3)),
    DemoCaller("+905329876543", "908502220000", CustomerScript(digit_delay=3, talk=2)),
    DemoCaller("+447700900123", "908502220002", CustomerScript(digits="3", digit_delay=3, talk=5)),
)


async def run_demo(
    settings: Settings, calls: int, echo: Echo, name: str = "demo"
) -> list[CallReport]:
    """Run CALLS simulated calls through a fresh sandbox NAME and print their story with ECHO."""
    started = time.monotonic()
    root = ensure_root(settings.sandbox.cache_dir)
    echo(f"sandbox root ready ({time.monotonic() - started:.1f} s): {root}")
    sandbox = SandboxInstance(root, name=name, app=settings.ari.app)
    sandbox.start()
    echo(
        f"Asterisk {sandbox.cli('core show version').split()[1]} up, ARI on {sandbox.ari.base_url}"
    )
    try:
        return await _calls(sandbox, calls, echo)
    finally:
        sandbox.stop()
        sandbox.remove()
        echo("sandbox stopped")


async def _calls(sandbox: SandboxInstance, count: int, echo: Echo) -> list[CallReport]:
    reports: list[CallReport] = []
    done = asyncio.Event()

    async def collect(report: CallReport) -> None:
        reports.append(report)
        if len(reports) == count:
            done.set()

    async with AriClient(sandbox.ari) as ari:
        ari.on_new_channel(welcome_flow(collect))
        await ari.wait_resynced(max_wait=10)
        echo(f"zentrale connected as ARI app {sandbox.ari.app!r}; placing {count} calls")
        for index in range(count):
            caller = DEMO_CALLERS[index % len(DEMO_CALLERS)]
            await place_call(
                sandbox.ari, did=caller.did, caller=caller.caller, script=caller.script
            )
        await asyncio.wait_for(done.wait(), timeout=30 + 10 * count)
        for number, report in enumerate(reports, 1):
            echo(await _describe(number, report, ari))
    return reports


async def _describe(number: int, report: CallReport, ari: AriClient) -> str:
    answered = (
        f"answered in {report.answered_after * 1000:.0f} ms"
        if report.answered_after is not None
        else "not answered"
    )
    lines = [
        f"call {number}: {mask_number(report.caller)} -> {report.dialled}: {answered}",
        "  " + ", ".join(report.steps) + f"; {report.ended_by}",
    ]
    if report.recording:
        audio = io.BytesIO()
        size = await ari.recordings.download_stored_file(report.recording, audio)
        audio.seek(0)
        with wave.open(audio) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        lines.append(f"  recorded {seconds:.1f} s of audio ({size // 1024} KiB WAV) in Asterisk")
    return "\n".join(lines)
