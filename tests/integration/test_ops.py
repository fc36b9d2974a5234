"""Health, readiness and metrics of a real `zentrale run` process against the sandbox Asterisk."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from zentrale.ops.process import DaemonProcess, DaemonSpec, sample, total
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party

from .test_service import RULES

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def _until(check: Callable[[], Awaitable[bool] | bool], seconds: float) -> bool:
    for _ in range(int(seconds * 5)):
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.fixture
def daemon(asterisk: SandboxInstance, tmp_path: Path) -> Iterator[DaemonProcess]:
    process = DaemonProcess(DaemonSpec(tmp_path, asterisk.ari, RULES))
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _checks(daemon: DaemonProcess) -> tuple[int, dict[str, bool]]:
    reply = daemon.get("/readyz")
    return reply.status_code, {check["name"]: check["ok"] for check in reply.json()["checks"]}


async def test_readyz_flips_when_asterisk_stops_and_recovers_when_it_returns(
    asterisk: SandboxInstance, daemon: DaemonProcess
) -> None:
    assert daemon.get("/healthz").json() == {"status": "alive"}
    assert await _until(lambda: _checks(daemon)[0] == 200, 30), daemon.get("/readyz").text
    _code, checks = _checks(daemon)
    assert checks == {
        "ari": True,
        "database": True,
        "storage": True,
        "rules": True,
        "accepting": True,
        "disk:temp": True,  # free space of the recording temp directory (recording.min_free_mb)
        "disk:store": True,  # and of the local store
    }
    try:
        await asyncio.to_thread(asterisk.stop)
        assert await _until(lambda: _checks(daemon)[0] == 503, 30)
        reply = daemon.get("/readyz")
        body = reply.json()
        assert body["ready"] is False
        (ari,) = [check for check in body["checks"] if check["name"] == "ari"]
        assert ari["ok"] is False
        assert ari["detail"].startswith("not connected")
        assert asterisk.password.get_secret_value() not in reply.text
        assert "127.0.0.1" not in reply.text  # no addresses on an unauthenticated endpoint
        assert daemon.get("/healthz").status_code == 200  # alive, only not ready
        assert sample(daemon.metrics(), "zentrale_ari_connected") == 0
        code, out = await _status(daemon)
        assert code == 1, out
        assert "NOT READY" in out
        assert "ari        FAIL not connected" in out
    finally:
        if not asterisk.is_running():
            await asyncio.to_thread(asterisk.start)
    assert await _until(lambda: _checks(daemon)[0] == 200, 60), daemon.get("/readyz").text
    samples = daemon.metrics()
    assert sample(samples, "zentrale_ari_connected") == 1
    assert sample(samples, "zentrale_ari_reconnects_total") >= 1


async def _status(daemon: DaemonProcess, *more: str) -> tuple[int, str]:
    zentrale = Path(sys.executable).parent / "zentrale"
    argv = [str(zentrale), "--config", str(daemon.config), "status", "--url", str(daemon.url)]
    done = await asyncio.to_thread(
        subprocess.run,
        [*argv, *more],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ZENTRALE_CONFIG": ""},
    )
    return done.returncode, done.stdout  # the log goes to stderr


async def test_status_shows_one_screen_and_exits_by_readiness(daemon: DaemonProcess) -> None:
    assert await _until(lambda: _checks(daemon)[0] == 200, 30), daemon.get("/readyz").text
    code, out = await _status(daemon)
    assert code == 0, out
    assert f"zentrale node1 at {daemon.url}: READY" in out
    assert "agents     available 1 · ringing 0 · on_call 0" in out
    assert "waiting    sales 0" in out
    code, out = await _status(daemon, "--json")
    report = json.loads(out)
    assert report["ready"] is True
    assert report["rules_version"] is not None
    assert report["last_errors"] == []
    code, out = await _status(daemon, "--url", "http://127.0.0.1:9")
    assert code == 2, out
    assert "daemon not answering" in out


async def test_metrics_need_the_bearer_token(daemon: DaemonProcess) -> None:
    assert daemon.get("/metrics").status_code == 401
    assert daemon.get("/metrics", authorization="Bearer wrong").status_code == 401
    reply = daemon.get("/metrics", authorization=f"Bearer {daemon.token}")
    assert reply.status_code == 200
    assert "zentrale_routing_rules_info" in reply.text


async def test_metrics_count_a_real_call(asterisk: SandboxInstance, daemon: DaemonProcess) -> None:
    creds = asterisk.ari
    before = daemon.metrics()
    assert sample(before, "zentrale_agents", state="available") == 1
    assert sample(before, "zentrale_active_calls") == 0
    await script_party(creds, "agent", "S1", PartyScript(answer_after=0.5, talk=4, then="hangup"))
    await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.5, then="wait"))

    def on_call() -> bool:
        samples = daemon.metrics()
        return (
            sample(samples, "zentrale_active_calls") == 1
            and sample(samples, "zentrale_agents", state="on_call") == 1
        )

    assert await _until(on_call, 30), daemon.text()[-3000:]

    def stored() -> bool:
        return sample(daemon.metrics(), "zentrale_pipeline_latency_seconds_count") >= 1

    assert await _until(stored, 90), daemon.text()[-3000:]

    def ended() -> bool:
        return sample(daemon.metrics(), "zentrale_active_calls") == 0

    # The call ends once Asterisk has destroyed the channel (its hangup cause is kept), which
    # may come a moment after the pipeline stored the recording.
    assert await _until(ended, 10), daemon.text()[-3000:]
    after = daemon.metrics()
    assert sample(after, "zentrale_calls_total", direction="inbound", outcome="answered") == 1
    assert total(after, "zentrale_calls_total") == 1
    assert sample(after, "zentrale_pipeline_latency_seconds_sum") > 0
    assert sample(after, "zentrale_ari_event_lag_seconds_count") > sample(
        before, "zentrale_ari_event_lag_seconds_count"
    )
    assert total(after, "zentrale_pipeline_failures_total") == 0
    assert sample(after, "zentrale_waiting_callers", department="sales") == 0
    rules = [labels for (name, labels), _ in after.items() if name == "zentrale_routing_rules_info"]
    assert len(rules) == 1
    assert rules[0][0][0] == "version"
