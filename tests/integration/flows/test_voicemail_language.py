"""The voicemail greeting in the caller's language, from the prompt catalogue, on the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from zentrale.calls.models import Outcome
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, place_call
from zentrale.telephony.ari.events import Envelope
from zentrale.testing.sip import tone, write_wav

from .conftest import MONDAY_10, Flows, daemon_settings

pytestmark = [pytest.mark.asyncio]

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [de, tr, en], default: en, fallback: en}
prompts:
  mailbox: {de: sound:de/mailbox-ansage, tr: sound:tr/sesli-mesaj, en: sound:vm-intro}
announcements:
  voicemail: mailbox
departments:
  desk:
    agents: [{endpoint: "Local/VM1@sim-agent/n", name: Vera}]
    max_wait: 10s
    on_max_wait: {voicemail: desk}
entry_rules:
  - name: germany
    match: {caller: ["+49*"]}
    language: de
    action: {voicemail: desk}
  - name: turkey
    match: {caller: ["+90*"]}
    language: tr
    action: {voicemail: desk}
  - name: everyone
    action: {voicemail: desk}
"""

PLAIN = RULES.replace("announcements:\n  voicemail: mailbox\n", "")


@dataclass
class Greeted:
    """The daemon, and every playback Asterisk finished (media, language, state)."""

    flows: Flows
    played: list[tuple[str, str | None, str]]


async def _running(asterisk: SandboxInstance, tmp_path: Path, rules: str) -> AsyncIterator[Greeted]:
    for name in ("de/mailbox-ansage", "tr/sesli-mesaj"):
        (tmp_path / "prompts" / name).parent.mkdir(parents=True, exist_ok=True)
        write_wav(tmp_path / "prompts" / f"{name}.wav", tone(600, 1.0))
    played: list[tuple[str, str | None, str]] = []

    async def on_raw(envelope: Envelope) -> None:
        if envelope.type == "PlaybackFinished":
            playback = envelope.raw["playback"]
            played.append((playback["media_uri"], playback.get("language"), playback["state"]))

    settings = daemon_settings(tmp_path, rules)
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        daemon.ari.on_raw(on_raw)
        await daemon.ari.wait_resynced(max_wait=10)
        yield Greeted(Flows(daemon, asterisk), played)


@pytest_asyncio.fixture
async def greeted(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Greeted]:
    async for running in _running(asterisk, tmp_path, RULES):
        yield running


@pytest_asyncio.fixture
async def plain(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Greeted]:
    async for running in _running(asterisk, tmp_path, PLAIN):
        yield running


async def _leave_message(greeted: Greeted, caller: str) -> dict[str, object]:
    ari = greeted.flows.asterisk.ari
    # Asterisk's vm-intro lasts about 6 s: the caller speaks past it, then hangs up.
    await place_call(ari, did="100", caller=caller, script=CustomerScript(talk=10))
    (call,) = await greeted.flows.finished_calls(1, max_wait=40)
    assert call.outcome == Outcome.VOICEMAIL
    events = await greeted.flows.events(call.id)
    (voicemail,) = [e.detail for e in events if e.kind == "voicemail"]
    assert "recording_started" in [e.kind for e in events]  # the greeting ended, then the beep
    return dict(voicemail)


@pytest.mark.parametrize(
    ("caller", "language", "file"),
    [("+4930123456", "de", "de/mailbox-ansage"), ("+905321112233", "tr", "tr/sesli-mesaj")],
)
async def test_greeting_comes_from_the_catalogue_in_the_callers_language(
    greeted: Greeted, caller: str, language: str, file: str
) -> None:
    detail = await _leave_message(greeted, caller)
    assert (detail["greeting"], detail["language"]) == (f"sound:{file}", language)
    greetings = [state for uri, _, state in greeted.played if file in uri]
    assert greetings[:1] == ["done"]  # Asterisk played the catalogue's file to the end
    assert not any("vm-intro" in uri for uri, _, _ in greeted.played)


async def test_without_a_greeting_asterisk_plays_its_own_in_the_callers_language(
    plain: Greeted,
) -> None:
    detail = await _leave_message(plain, "+4930123456")
    assert (detail["greeting"], detail["language"]) == ("sound:vm-intro", "de")
    # Asked for in German; the sandbox has English sounds only, which Asterisk then plays.
    assert ("sound:vm-intro", "de", "done") in plain.played
