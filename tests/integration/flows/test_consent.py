"""The recording-consent notice on the real sandbox Asterisk, with the recording pipeline.

A department's own notice (a version label, a Turkish sound 6 s long) is played to a Turkish
caller before the agent is rung; the stored recording lasts as long as the talk, not the talk
plus the notice, and the call row names the notice's version and language. A notice Asterisk
cannot play (its sound file does not exist) means the call goes on unrecorded, with
`consent_failed` on its timeline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import select

from zentrale.calls.models import Call, Outcome
from zentrale.calls.store import CallStore
from zentrale.config.settings import (
    DatabaseSettings,
    HttpSettings,
    KeySettings,
    RecipientSettings,
    RecordingSettings,
    RoutingSettings,
    Settings,
    StorageSettings,
)
from zentrale.daemon import Daemon
from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.testing.recordings import decrypt

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

MONDAY_10 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
NOTICE_SECONDS = 6.0  # vm-newuser.gsm: 9,900 bytes of GSM at 1,650 bytes/s
TALK = 6

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en, tr], default: en, fallback: en}
prompts:
  bye: sound:vm-goodbye
  notice: {en: "sound:conf-now-recording", tr: "sound:hello-world"}
  notice_complaints: {en: "sound:conf-now-recording", tr: "sound:vm-newuser"}
  notice_missing: "sound:zentrale-no-such-notice"
announcements:
  consent: {inbound: {prompt: notice, version: "2026-01"}, outbound: notice}
departments:
  complaints:
    agents: [{endpoint: "Local/CN1@sim-agent/n", name: Ayşe}]
    strategy: in_order
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    recording: true
    consent:
      inbound: {prompt: notice_complaints, version: "2026-11-complaints"}
  general:
    agents: [{endpoint: "Local/CN3@sim-agent/n", name: Mehmet}]
    strategy: in_order
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    recording: true
  broken:
    agents: [{endpoint: "Local/CN2@sim-agent/n", name: Jonas}]
    strategy: in_order
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    recording: true
    consent: {inbound: {prompt: notice_missing, version: v-missing}}
entry_rules:
  - name: broken line
    match: {did: ["200"]}
    language: tr
    action: {department: broken}
  - name: everyone
    language: tr
    action: {department: complaints}
"""


@dataclass
class Consenting:
    """A daemon with the pipeline on the sandbox, and where its files are."""

    daemon: Daemon
    asterisk: SandboxInstance
    tmp: Path

    async def ended_call(self, max_wait: float = 90) -> Call:
        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                async with self.daemon.db.read() as session:
                    calls = list(await session.scalars(select(Call)))
                if calls and calls[0].ended_at is not None and not self.daemon.center.active:
                    return calls[0]
                await asyncio.sleep(0.2)

    async def stored(self, call_id: str, max_wait: float = 90) -> Recording:
        store = RecordingStore(self.daemon.db)
        async with asyncio.timeout(max_wait):
            while True:
                rows = await store.for_call(call_id)
                if rows and rows[0].state == RecordingState.STORED:
                    return rows[0]
                await asyncio.sleep(0.2)

    async def kinds(self, call_id: str) -> list[str]:
        return [str(e.kind) for e in await CallStore(self.daemon.db).events(call_id)]

    def decoded(self, row: Recording) -> audio.AudioSegment:
        keys = [LocalKeyProvider(Keyring.load(self.tmp / "keys" / "keyring.json"))]
        path = self.tmp / "check.opus"
        path.write_bytes(decrypt(LocalStore(self.tmp / "recordings"), row, keys))
        try:
            return audio.decode(path)
        finally:
            path.unlink()


@pytest_asyncio.fixture
async def consenting(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Consenting]:
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    state = tmp_path / "state"
    settings = Settings(
        state_dir=state,
        routing=RoutingSettings(file=rules, history_dir=state / "history"),
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{state}/z.db")),
        http=HttpSettings(port=0),
        recording=RecordingSettings(temp_dir=state / "tmp", workers=1),
        storage=StorageSettings(path=tmp_path / "recordings"),
        keys=KeySettings(
            recipients=(
                RecipientSettings(
                    provider="local", keyring_file=tmp_path / "keys" / "keyring.json"
                ),
            )
        ),
    )
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield Consenting(daemon, asterisk, tmp_path)


def talk_time(call: Call) -> float:
    assert call.agent_answered_at is not None
    assert call.ended_at is not None
    return (call.ended_at - call.agent_answered_at).total_seconds()


async def test_the_departments_notice_is_heard_in_turkish_before_recording_and_not_recorded(
    consenting: Consenting,
) -> None:
    ari = consenting.asterisk.ari
    await script_party(ari, "agent", "CN1", PartyScript(answer_after=0.5))
    await place_call(ari, did="100", script=CustomerScript(talk=TALK))

    call = await consenting.ended_call()

    assert call.outcome == Outcome.ANSWERED
    assert (call.consent_version, call.consent_language) == ("2026-11-complaints", "tr")
    kinds = await consenting.kinds(call.id)
    assert kinds.index("consent_played") < kinds.index("agent_rung")
    assert kinds.index("consent_played") < kinds.index("recording_started")
    row = await consenting.stored(call.id)
    heard = consenting.decoded(row).duration_seconds
    # The recording holds the talk, not the 6 s notice before it (that would make it ~12 s).
    assert heard == pytest.approx(talk_time(call), abs=1.0)
    assert heard < talk_time(call) + NOTICE_SECONDS / 2


async def test_a_notice_asterisk_cannot_play_means_the_call_is_not_recorded(
    consenting: Consenting,
) -> None:
    ari = consenting.asterisk.ari
    await script_party(ari, "agent", "CN2", PartyScript(answer_after=0.5))
    await place_call(ari, did="200", script=CustomerScript(talk=3))

    call = await consenting.ended_call()

    assert (call.outcome, call.department) == (Outcome.ANSWERED, "broken")
    assert (call.consent_version, call.consent_language) == (None, None)
    events = await CallStore(consenting.daemon.db).events(call.id)
    kinds = [str(e.kind) for e in events]
    assert "consent_failed" in kinds
    assert "consent_played" not in kinds
    assert "recording_started" not in kinds
    failed = next(e for e in events if e.kind == "consent_failed")
    assert (failed.detail["notice"], failed.detail["language"]) == ("v-missing", "tr")
    assert await RecordingStore(consenting.daemon.db).for_call(call.id) == []


async def test_after_a_transfer_the_new_departments_notice_is_played_again(
    consenting: Consenting,
) -> None:
    ari, center = consenting.asterisk.ari, consenting.daemon.center
    await script_party(ari, "agent", "CN1", PartyScript(answer_after=0.5))  # stays on the line
    await script_party(ari, "agent", "CN3", PartyScript(answer_after=0.5, talk=2, then="hangup"))
    await place_call(ari, did="100", script=CustomerScript(then="wait", hangup_after=60))
    async with asyncio.timeout(60):
        while not any(c.agent_leg for c in center.active.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    (call_id,) = center.active
    await center.transfer(call_id, "department", "general")

    call = await consenting.ended_call()

    events = await CallStore(consenting.daemon.db).events(call.id)
    played = [
        (e.detail["notice"], e.detail["language"]) for e in events if e.kind == "consent_played"
    ]
    assert played == [("2026-11-complaints", "tr"), ("2026-01", "tr")]
    assert (call.department, call.consent_version) == ("general", "2026-01")
    kinds = [str(e.kind) for e in events]
    second = kinds.index("transfer")
    assert kinds.index("consent_played", second) < kinds.index("recording_started", second)
