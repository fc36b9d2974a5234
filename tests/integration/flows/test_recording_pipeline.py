"""Recorded calls on the real sandbox Asterisk come out of the pipeline stored and encrypted.

A daemon with the pipeline (local storage and keyring under the test's directory) answers a
simulated customer, bridges an agent and records; the test waits until the recording row is
stored, decrypts the object with the configured keyring and checks the audio: its length
against the call's talk time, its level against silence, a paused stretch left out, and that
no plaintext audio remains in the daemon's directories or in Asterisk's spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr

from zentrale.calls.models import Call
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
from zentrale.telephony.spool import SpoolSource
from zentrale.testing.recordings import decrypt, plaintext_audio

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

MONDAY_10 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
SPEECH_RMS = 300  # the sandbox's hello-world prompt is far above; silence is 0

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
announcements:
  consent: {inbound: consent, outbound: consent}
departments:
  recorded:
    agents:
      - {endpoint: "Local/RP1@sim-agent/n", name: Ayşe}
    strategy: in_order
    ring_timeout: 5s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 0s
    recording: true
entry_rules:
  - name: everyone
    action: {department: recorded}
"""


@dataclass
class Recorded:
    """A daemon with the pipeline on the sandbox, and where its files are."""

    daemon: Daemon
    asterisk: SandboxInstance
    tmp: Path

    @property
    def store(self) -> LocalStore:
        return LocalStore(self.tmp / "recordings")

    def keys(self) -> list[LocalKeyProvider]:
        return [LocalKeyProvider(Keyring.load(self.tmp / "keys" / "keyring.json"))]

    async def ended_call(self, max_wait: float = 60) -> Call:
        from sqlalchemy import select

        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                async with self.daemon.db.read() as session:
                    calls = list(await session.scalars(select(Call)))
                if calls and calls[0].ended_at is not None and not self.daemon.center.active:
                    return calls[0]
                await asyncio.sleep(0.2)

    async def stored(self, call_id: str, max_wait: float = 60) -> Recording:
        store = RecordingStore(self.daemon.db)
        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                rows = await store.for_call(call_id)
                if rows and rows[0].state == RecordingState.STORED:
                    return rows[0]
                await asyncio.sleep(0.2)

    def decoded(self, row: Recording) -> audio.AudioSegment:
        plain = decrypt(self.store, row, self.keys())
        path = self.tmp / "check.opus"  # outside the daemon's directories
        path.write_bytes(plain)
        try:
            return audio.decode(path)
        finally:
            path.unlink()


@pytest_asyncio.fixture
async def recorded(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Recorded]:
    async with _recorded(asterisk, tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def _recorded(
    asterisk: SandboxInstance, tmp_path: Path, spool: Path | None = None
) -> AsyncIterator[Recorded]:
    """A daemon with the pipeline on the sandbox (reading Asterisk's SPOOL, if given)."""
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    settings = Settings(
        state_dir=tmp_path / "state",
        routing=RoutingSettings(file=rules, history_dir=tmp_path / "state" / "history"),
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path}/state/z.db")),
        http=HttpSettings(port=0),
        recording=RecordingSettings(
            temp_dir=tmp_path / "state" / "tmp", workers=2, asterisk_spool=spool
        ),
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
        yield Recorded(daemon, asterisk, tmp_path)


async def talk_call(recorded: Recorded, talk: int) -> None:
    """Place a call that an agent answers; the caller talks TALK seconds from being answered
    by the app, so the consent notice (about 2.5 s) and the ringing come out of it: below 5
    a loaded machine can leave the caller hanging up before the agent answers."""
    await script_party(recorded.asterisk.ari, "agent", "RP1", PartyScript(answer_after=0.5))
    await place_call(recorded.asterisk.ari, did="100", script=CustomerScript(talk=talk))


def talk_time(call: Call) -> float:
    assert call.agent_answered_at is not None
    assert call.ended_at is not None
    return (call.ended_at - call.agent_answered_at).total_seconds()


async def test_recorded_call_is_stored_encrypted_and_decrypts_to_the_talk(
    recorded: Recorded,
) -> None:
    await talk_call(recorded, talk=5)
    call = await recorded.ended_call()
    row = await recorded.stored(call.id)
    pool = recorded.daemon.pipeline
    assert pool is not None
    assert pool.queue.bell.rings >= 1  # the journal's commit woke a worker: no poll needed
    assert (row.format, row.corrupt, row.silent) == ("opus", False, False)
    assert row.wrapped_keys[0]["provider"] == "local"
    assert row.object_key is not None
    with recorded.store.path_for(row.object_key).open("rb") as stored:
        assert stored.read(4) == b"ZREC"  # what is on disk is our envelope, not audio
    segment = recorded.decoded(row)
    assert segment.duration_seconds == pytest.approx(talk_time(call), abs=1.0)
    assert row.duration_s == pytest.approx(segment.duration_seconds, abs=0.1)
    assert segment.rms > SPEECH_RMS
    assert row.waveform is not None
    assert len(row.waveform) == pytest.approx(row.duration_s * 10, abs=2)


async def test_no_plaintext_audio_remains_after_the_pipeline(recorded: Recorded) -> None:
    await talk_call(recorded, talk=5)
    call = await recorded.ended_call()
    row = await recorded.stored(call.id)
    await recorded.daemon.pipeline.wait_idle()  # type: ignore[union-attr]
    spool = recorded.asterisk.recording_dir
    assert not [p for p in spool.iterdir() if p.name.startswith(row.asterisk_name)]
    state = recorded.daemon.settings.state_dir
    assert plaintext_audio([state, recorded.tmp / "recordings", recorded.tmp / "keys"]) == []
    assert list(recorded.daemon.settings.recording.temp_dir.iterdir()) == []


async def test_a_node_beside_asterisk_reads_and_deletes_the_recording_in_its_spool(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    """With `recording.asterisk_spool` the file is read and deleted there, not over ARI."""
    async with _recorded(asterisk, tmp_path, spool=asterisk.recording_dir) as recorded:
        pool = recorded.daemon.pipeline
        assert pool is not None
        source = pool.pipeline.tools.source
        assert isinstance(source, SpoolSource)
        await talk_call(recorded, talk=5)
        call = await recorded.ended_call()
        row = await recorded.stored(call.id)
        await pool.wait_idle()
        assert source.read_here == 1
        assert recorded.decoded(row).rms > SPEECH_RMS
        spool = asterisk.recording_dir
        assert not [p for p in spool.iterdir() if p.name.startswith(row.asterisk_name)]


async def test_paused_stretch_is_absent_and_marked(recorded: Recorded) -> None:
    await talk_call(recorded, talk=9)
    conversation = None
    async with asyncio.timeout(30):
        while conversation is None or conversation.recording is None:
            await asyncio.sleep(0.1)
            active = list(recorded.daemon.center.active.values())
            conversation = active[0].conversation if active else None
    await asyncio.sleep(2)
    await conversation.pause()
    await asyncio.sleep(3)
    await conversation.resume()
    call = await recorded.ended_call()
    row = await recorded.stored(call.id)
    ((start, end),) = row.pause_markers
    assert start == pytest.approx(2.0, abs=0.5)
    assert end - start == pytest.approx(3.0, abs=0.5)
    segment = recorded.decoded(row)
    assert segment.duration_seconds == pytest.approx(talk_time(call) - (end - start), abs=1.0)
    kinds = [str(e.kind) for e in await _events(recorded, call.id)]
    assert kinds.index("recording_paused") < kinds.index("recording_resumed")


async def _events(recorded: Recorded, call_id: str) -> list:  # type: ignore[type-arg]
    from zentrale.calls.store import CallStore

    return await CallStore(recorded.daemon.db).events(call_id)
