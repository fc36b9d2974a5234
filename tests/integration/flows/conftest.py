"""A running zentrale daemon against the sandbox Asterisk, with rules written per test."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from zentrale.calls.models import Call, CallEvent
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
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, PlacedCall, place_call
from zentrale.sandbox.simulate import script_party as _script_party

# Weekdays 08:00-18:00 in Istanbul; the flows' clock is a fixed Monday 10:00 unless a test
# says otherwise.
MONDAY_10 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
SUNDAY_03 = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  invalid: sound:beep
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
  closed: sound:please-try-call-later
  thanks: sound:auth-thankyou
announcements:
  consent: {inbound: consent, outbound: consent}
  closed: closed
schedules:
  office:
    weekly: {mon: ["08:00-18:00"], tue: ["08:00-18:00"], wed: ["08:00-18:00"],
             thu: ["08:00-18:00"], fri: ["08:00-18:00"]}
departments:
  sales:
    agents:
      - {endpoint: "Local/A1@sim-agent/n", name: Ayşe}
      - {endpoint: "Local/A2@sim-agent/n", name: Jonas}
    strategy: in_order
    ring_timeout: 3s
    max_wait: 12s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 0s
    recording: true
    schedule: office
  support:
    agents:
      - {endpoint: "Local/B1@sim-agent/n", name: Mehmet}
    strategy: ring_all
    ring_timeout: 4s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
    recording: true
    schedule: office
  solo:
    agents:
      - {endpoint: "Local/C1@sim-agent/n", name: Lena}
    strategy: in_order
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 1s
    recording: false
    survey: quick
  mixed:
    agents:
      - {endpoint: "PJSIP/9001", name: Offline}
      - {endpoint: "Local/D1@sim-agent/n", name: Derya}
    strategy: in_order
    ring_timeout: 4s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
  overflow:
    agents: [{endpoint: "Local/E1@sim-agent/n", name: Emre}]
    ring_timeout: 2s
    max_wait: 3s
    on_max_wait: {dial: "+4930111"}
  mailbox:
    agents: [{endpoint: "Local/F1@sim-agent/n", name: Fatma}]
    max_wait: 10s
    on_max_wait: {play_and_hangup: bye}
    schedule: office
    when_closed: {voicemail: mailbox}
menus:
  main:
    prompt: menu
    options:
      "1": {department: sales}
      "2": {department: support}
      "3": {department: solo}
      "4": {department: mixed}
      "5": {department: overflow}
      "6": {department: mailbox}
    timeout: 3s
    retries: 1
    invalid_prompt: invalid
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
surveys:
  quick: {questions: [menu], max_digit: 5, thanks: thanks}
entry_rules:
  - name: VIP
    match: {caller: ["+90532*"]}
    priority: 5
    action: {menu: main}
  - name: everyone
    action: {menu: main}
"""


@dataclass
class Flows:
    """A daemon on the sandbox, and helpers to drive and inspect calls."""

    daemon: Daemon
    asterisk: SandboxInstance

    async def call(self, script: CustomerScript, caller: str = "+905551112233") -> PlacedCall:
        """Place a simulated customer call from CALLER following SCRIPT."""
        return await place_call(self.asterisk.ari, did="100", caller=caller, script=script)

    async def agent(self, ident: str, script: PartyScript) -> None:
        """Script a simulated agent (by the id in Local/<id>@sim-agent)."""
        await _script_party(self.asterisk.ari, "agent", ident, script)

    async def finished_calls(self, count: int, max_wait: float = 60) -> list[Call]:
        """Wait until COUNT calls have ended and are written; return them, oldest first."""
        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                calls = await self._calls()
                if len([c for c in calls if c.ended_at is not None]) >= count and not (
                    self.daemon.center.active
                ):
                    return calls
                await asyncio.sleep(0.2)

    async def _calls(self) -> list[Call]:
        from sqlalchemy import select

        async with self.daemon.db.read() as session:
            rows = await session.scalars(select(Call).order_by(Call.arrived_at))
            return list(rows)

    async def events(self, call_id: str) -> list[CallEvent]:
        """Return a call's timeline."""
        from zentrale.calls.store import CallStore

        return await CallStore(self.daemon.db).events(call_id)

    async def kinds(self, call_id: str) -> list[str]:
        """Return a call's timeline as event kinds."""
        return [str(event.kind) for event in await self.events(call_id)]

    async def asterisk_empty(self) -> bool:
        """Tell whether Asterisk holds no channel and no bridge (waiting a little)."""
        creds = self.asterisk.ari
        auth = (creds.username, creds.password.get_secret_value())
        async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:
            for _ in range(50):
                channels = (await http.get("/channels")).json()
                bridges = (await http.get("/bridges")).json()
                if not channels and not bridges:
                    return True
                await asyncio.sleep(0.1)
        return False


def daemon_settings(tmp_path: Path, rules: str, *, two_party: bool = False) -> Settings:
    """Settings of a test daemon on RULES: SQLite, local storage and keys, all in TMP_PATH."""
    rules_file = tmp_path / "routing.yaml"
    rules_file.write_text(rules)
    return Settings(
        state_dir=tmp_path,
        routing=RoutingSettings(file=rules_file, history_dir=tmp_path / "history"),
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path}/z.db")),
        http=HttpSettings(port=0),
        prompts=PromptSettings(dir=tmp_path / "prompts"),
        # The recording pipeline's files stay in the test's directory, not in ./var.
        recording=RecordingSettings(temp_dir=tmp_path / "tmp", two_party=two_party),
        storage=StorageSettings(path=tmp_path / "recordings"),
        keys=KeySettings(
            recipients=(
                RecipientSettings(provider="local", keyring_file=tmp_path / "keyring.json"),
            )
        ),
    )


@pytest.fixture
def flows_clock() -> dt.datetime:
    """The wall-clock time routing sees; override in a test module for other hours."""
    return MONDAY_10


@pytest.fixture
def flows_two_party() -> bool:
    """Whether conversations are recorded per party; override in a test module."""
    return False


@pytest_asyncio.fixture
async def flows(
    asterisk: SandboxInstance, tmp_path: Path, flows_clock: dt.datetime, flows_two_party: bool
) -> AsyncIterator[Flows]:
    now = flows_clock
    settings = daemon_settings(tmp_path, RULES, two_party=flows_two_party)
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield Flows(daemon, asterisk)
