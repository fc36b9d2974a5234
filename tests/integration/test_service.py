"""`zentrale run` as a real process against the sandbox: SIGTERM drains, SIGHUP reloads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.api.routes_prompts import ROUTE_PREFIX
from zentrale.calls.models import Call, Outcome
from zentrale.db.session import Database
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
announcements: {}
departments:
  sales:
    agents: [{endpoint: "Local/S1@sim-agent/n", name: Sam}]
    ring_timeout: 5s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
    recording: true
menus:
  main:
    prompt: menu
    options: {"1": {department: sales}}
    timeout: 5s
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - {name: everyone, action: {menu: main}}
"""


class Service:
    """A `zentrale run` process and what it wrote."""

    def __init__(self, process: subprocess.Popen[bytes], home: Path, log: Path) -> None:
        self.process, self.home, self.log = process, home, log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def calls(self) -> list[tuple[Call, list[Recording]]]:
        async with (
            Database.open(f"sqlite+aiosqlite:///{self.home}/z.db") as db,
            db.read() as session,
        ):
            calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
            found = []
            for call in calls:
                query = select(Recording).where(Recording.call_id == call.id)
                found.append((call, list(await session.scalars(query))))
            return found


async def _poll(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def _has(service: Service, event: str) -> bool:
    return event in service.text()


@pytest_asyncio.fixture
async def service(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Service]:
    creds = asterisk.ari
    (tmp_path / "ari-password").write_text(creds.password.get_secret_value())
    (tmp_path / "routing.yaml").write_text(RULES)
    (tmp_path / "zentrale.yaml").write_text(f"""
state_dir: {tmp_path}
ari: {{url: "{creds.base_url}", password_file: "{tmp_path}/ari-password", app: {creds.app}}}
routing: {{file: "{tmp_path}/routing.yaml", history_dir: "{tmp_path}/history"}}
database: {{url: "sqlite+aiosqlite:///{tmp_path}/z.db"}}
http: {{port: 0}}
prompts: {{dir: "{tmp_path}/prompts"}}
recording: {{temp_dir: "{tmp_path}/tmp", format: wav}}
storage: {{path: "{tmp_path}/recordings"}}
keys: {{recipients: [{{provider: local, keyring_file: "{tmp_path}/keyring.json"}}]}}
""")
    log = tmp_path / "service.log"
    zentrale = Path(sys.executable).parent / "zentrale"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-lived process we signal and wait on
            [
                str(zentrale),
                "--config",
                str(tmp_path / "zentrale.yaml"),
                "--log-format",
                "json",
                "run",
                "--drain-seconds",
                "30",
            ],
            stdout=out,
            stderr=out,
            env={**os.environ, "ZENTRALE_CONFIG": ""},
        )
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:

        async def registered() -> bool:
            return (await http.get(f"/applications/{creds.app}")).status_code == 200

        assert await _poll(registered, 30), log.read_text()

    async def ready() -> bool:
        return "service.ready" in log.read_text(errors="replace")

    assert await _poll(ready, 30), log.read_text()
    try:
        yield Service(process, tmp_path, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def test_sigterm_lets_the_call_finish_and_sends_new_callers_to_the_fallback(
    asterisk: SandboxInstance, service: Service
) -> None:
    creds = asterisk.ari
    await script_party(creds, "agent", "S1", PartyScript(answer_after=0.5, talk=5, then="hangup"))
    await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:

        async def connected() -> bool:
            return any(len(b["channels"]) == 2 for b in (await http.get("/bridges")).json())

        assert await _poll(connected, 20), service.text()
        service.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        late = await place_call(creds, script=CustomerScript(then="wait"))

        async def late_gone() -> bool:
            reply = await http.get(f"/channels/{late.customer_channel_id}")
            return reply.status_code == 404

        assert await _poll(late_gone, 15)  # the fallback message played, then hung up
        assert await asyncio.to_thread(service.process.wait, 40) == 0
        assert (await http.get("/channels")).json() == []
    text = service.text()
    assert "service.draining" in text
    assert "call.sent_to_fallback" in text
    ((call, recordings),) = await service.calls()  # the late caller never became a call
    assert call.outcome == Outcome.ANSWERED
    assert call.ended_at is not None
    assert len(recordings) == 1
    # The drain limit also covers the pipeline: the call's recording was stored before exit.
    assert recordings[0].state == RecordingState.STORED
    assert LocalStore(service.home / "recordings").exists(recordings[0].object_key or "")
    assert '"recording_jobs_left": 0' in text


async def test_sighup_reloads_the_routing_rules_and_the_settings(service: Service) -> None:
    changed = RULES.replace("max_wait: 30s", "max_wait: 45s")
    (service.home / "routing.yaml").write_text(changed)
    config = service.home / "zentrale.yaml"
    text = config.read_text().replace("format: wav}", "format: wav, workers: 3}")
    config.write_text(text + "logging: {level: debug}\n")
    service.process.send_signal(signal.SIGHUP)

    async def reloaded() -> bool:
        return "service.reload" in service.text() and service.text().count("routing.applied") >= 2

    assert await _poll(reloaded, 15), service.text()
    (line,) = [line for line in service.text().splitlines() if "settings_reloaded" in line]
    reload = json.loads(line)
    assert reload["applied"] == ["logging.level"]
    assert reload["needs_restart"] == ["recording.workers"]

    # The new level is live: a prompt asked for with a wrong token is logged at debug level.
    (ready,) = [json.loads(line) for line in service.text().splitlines() if "service.ready" in line]
    async with httpx.AsyncClient() as http:
        await http.get(f"{ready['http']}{ROUTE_PREFIX}/wrong-token/menu.wav")
    assert await _poll(lambda: _has(service, "prompts.http.bad_token"), 15), service.text()[-2000:]
    config.write_text("ari: {url: nonsense}\n")  # a broken file is refused, the daemon goes on
    service.process.send_signal(signal.SIGHUP)

    assert await _poll(lambda: _has(service, "service.settings_refused"), 15), service.text()
    assert service.process.poll() is None
    service.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(service.process.wait, 30) == 0


async def test_sighup_during_start_up_does_not_kill_the_daemon(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    # Before the fix SIGHUP's default action ended the process if it came before start-up
    # finished (an early `systemctl reload`).
    creds = asterisk.ari
    (tmp_path / "ari-password").write_text(creds.password.get_secret_value())
    (tmp_path / "routing.yaml").write_text(RULES)
    config = tmp_path / "zentrale.yaml"
    config.write_text(f"""
state_dir: {tmp_path}
ari: {{url: "{creds.base_url}", password_file: "{tmp_path}/ari-password", app: {creds.app}}}
routing: {{file: "{tmp_path}/routing.yaml", history_dir: "{tmp_path}/history"}}
database: {{url: "sqlite+aiosqlite:///{tmp_path}/z.db"}}
http: {{port: 0}}
recording: {{temp_dir: "{tmp_path}/tmp"}}
storage: {{path: "{tmp_path}/recordings"}}
keys: {{recipients: [{{provider: local, keyring_file: "{tmp_path}/keyring.json"}}]}}
""")
    log = tmp_path / "service.log"
    zentrale = Path(sys.executable).parent / "zentrale"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-lived process we signal and wait on
            [str(zentrale), "--config", str(config), "--log-format", "json", "run"],
            stdout=out,
            stderr=out,
        )
    try:

        async def started_logging() -> bool:
            return "routing.applied" in log.read_text(errors="replace")

        assert await _poll(started_logging, 30), log.read_text()
        for _ in range(5):  # early reloads while ARI, the pipeline and HTTP start
            process.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.05)

        async def ready() -> bool:
            return "service.ready" in log.read_text(errors="replace")

        assert await _poll(ready, 30), log.read_text()
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
