"""REST over the event WebSocket against the real sandbox Asterisk 22: the probe picks it, a call
flow runs on it with the same errors as HTTP, and a `zentrale run` set to `websocket` takes a
real call and `zentrale status` says which transport it uses."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zentrale.ops.process import DaemonProcess, DaemonSpec, sample
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.telephony.ari import AriClient, AriNotFoundError, Digits

from .test_ari_asterisk import OPTIONS, SCRIPT, answer_and_collect, until
from .test_service import RULES

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def test_auto_picks_the_websocket_and_a_call_flow_runs_on_it(
    asterisk: SandboxInstance,
) -> None:
    results: list[Digits] = []
    async with AriClient(asterisk.ari, dataclasses.replace(OPTIONS, rest_transport="auto")) as ari:
        ari.on_new_channel(answer_and_collect(results))  # type: ignore[arg-type]
        await ari.wait_resynced(30)
        assert ari.state.rest_transport == "websocket"
        assert ari.rest_transport == "websocket"
        with pytest.raises(AriNotFoundError) as missing:
            await ari.channels.get("no-such-channel")
        assert missing.value.status == 404
        assert "Channel not found" in missing.value.message
        info = await ari.asterisk.info()
        assert info.system is not None
        await place_call(asterisk.ari, did="100", script=SCRIPT)
        await until(lambda: ari.traffic.calls == 1)
        assert results == [Digits("12", "max_digits")]
        assert ari.traffic.requests >= 1  # answer (the flow's own requests)
        assert ari.traffic.events >= 3  # StasisStart, the digits, the hangup
        assert ari.rest.stats.ws_requests == ari.rest.stats.requests
        assert ari.rest.ws.late == 0


@pytest.fixture
def ws_daemon(asterisk: SandboxInstance, tmp_path: Path) -> Iterator[DaemonProcess]:
    spec = DaemonSpec(
        tmp_path, asterisk.ari, RULES, sections={"ari": {"rest_transport": "websocket"}}
    )
    process = DaemonProcess(spec)
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


async def test_daemon_on_the_websocket_takes_a_call_and_status_shows_it(
    asterisk: SandboxInstance, ws_daemon: DaemonProcess
) -> None:
    creds = asterisk.ari
    await script_party(creds, "agent", "S1", PartyScript(answer_after=0.5, talk=2, then="hangup"))
    await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.5, then="wait"))

    def ended() -> bool:
        samples = ws_daemon.metrics()
        return sample(samples, "zentrale_calls_total", direction="inbound", outcome="answered") == 1

    await until(ended, 60)
    await until(lambda: sample(ws_daemon.metrics(), "zentrale_ari_calls_counted_total") >= 1, 30)
    samples = ws_daemon.metrics()
    assert sample(samples, "zentrale_ari_rest_transport_info", transport="websocket") == 1
    assert sample(samples, "zentrale_ari_call_requests_total") > 0
    assert sample(samples, "zentrale_ari_call_events_total") > 0
    zentrale = Path(sys.executable).parent / "zentrale"
    argv = [str(zentrale), "--config", str(ws_daemon.config), "status", "--url", ws_daemon.url]
    done = await asyncio.to_thread(
        subprocess.run,
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZENTRALE_CONFIG": ""},
    )
    assert "REST over websocket" in done.stdout, done.stdout + done.stderr
