"""Real SIP on the sandbox: a carrier's caller (SIPp, RTP, RFC 4733 keys) and agents' phones.

The rules name an agent on a PJSIP phone, so zentrale subscribes to `endpoint:PJSIP` to follow
phones' registration, and Asterisk then delivers every event of a SIP channel twice (through the
channel's and the endpoint's subscription). These tests see what a caller on a real line gets.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from pydub import AudioSegment

from zentrale.calls.models import Call, CallEvent, Outcome
from zentrale.calls.store import CallStore
from zentrale.daemon import Daemon
from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.testing.recordings import decrypt
from zentrale.testing.sip import (
    CarrierCall,
    CarrierScript,
    Key,
    agent_phone,
    carrier_call,
    carrier_refusing,
    have_tools,
)

from .conftest import MONDAY_10, daemon_settings

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

SIP_RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  account: sound:dir-pls-enter
  invalid: sound:beep
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
announcements:
  consent: {inbound: consent, outbound: consent}
departments:
  desk:
    agents: [{endpoint: "PJSIP/8001", name: Deniz}]
    strategy: in_order
    ring_timeout: 8s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
    recording: true
  pair:
    agents:
      - {endpoint: "PJSIP/8002", name: Offline}
      - {endpoint: "PJSIP/8001", name: Deniz}
    strategy: in_order
    ring_timeout: 8s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
menus:
  main:
    prompt: menu
    options: {"1": {menu: account}, "2": {department: desk}, "3": {department: pair}}
    timeout: 4s
    retries: 1
    invalid_prompt: invalid
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
  account:
    prompt: account
    entry:
      min_length: 4
      max_length: 4
      terminator: "#"
      store_as: account
      then: {play_and_hangup: bye}
    timeout: 6s
    on_invalid: {play_and_hangup: bye}
entry_rules:
  - name: everyone
    action: {menu: main}
"""


@dataclass
class SipFlows:
    """A daemon on the sandbox with SIP rules; calls placed by a SIPp carrier."""

    daemon: Daemon
    asterisk: SandboxInstance
    tmp: Path

    async def call(self, script: CarrierScript) -> CarrierCall:
        """Place one call from the carrier and wait until SIPp is done with it."""
        done = await carrier_call(
            sip_port=self.asterisk.sip_port,
            carrier_port=self.asterisk.carrier_port,
            script=script,
            workdir=self.tmp / "sipp",
        )
        assert done.returncode == 0, done.output
        return done

    async def finished_call(self, max_wait: float = 60) -> Call:
        """Wait until the one call has ended and is written; return it."""
        from sqlalchemy import select

        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                async with self.daemon.db.read() as session:
                    calls = list(await session.scalars(select(Call)))
                if calls and calls[0].ended_at is not None and not self.daemon.center.active:
                    return calls[0]
                await asyncio.sleep(0.2)

    async def events(self, call_id: str) -> list[CallEvent]:
        """Return a call's timeline."""
        return await CallStore(self.daemon.db).events(call_id)


@pytest.fixture
def recording_format() -> str:
    """The stored recordings' format; a test parametrizes it."""
    return "opus"


@pytest_asyncio.fixture
async def sip(
    asterisk: SandboxInstance, tmp_path: Path, recording_format: str
) -> AsyncIterator[SipFlows]:
    settings = daemon_settings(tmp_path, SIP_RULES, two_party=True)
    recording = settings.recording.model_copy(update={"format": recording_format})
    telephony = settings.telephony.model_copy(
        update={"outbound_endpoint": "PJSIP/{number}@carrier"}
    )
    settings = settings.model_copy(update={"recording": recording, "telephony": telephony})
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield SipFlows(daemon, asterisk, tmp_path)


def _digits(events: list[CallEvent]) -> list[dict[str, object]]:
    return [dict(e.detail) for e in events if e.kind == "digit"]


async def test_sip_keys_reach_menu_and_entry_once(sip: SipFlows) -> None:
    # 1 in the menu (during its prompt), then an account number of four digits.
    keys = [Key("1", 2.0), Key("4", 4.5), Key("7", 5.1), Key("1", 5.7), Key("2", 6.3)]
    await sip.call(CarrierScript(keys=keys, hold=25))
    call = await sip.finished_call()
    assert call.caller_number == "+905551112233"
    assert call.dialled_number == "100"
    assert call.outcome == Outcome.MESSAGE  # the entry's then: a goodbye, no agent
    # zentrale hung up after the goodbye: Asterisk's cause for a normal end.
    assert (call.hangup_cause_code, call.hangup_cause_text) == (16, "Normal Clearing")
    assert _digits(await sip.events(call.id)) == [
        {"menu": "main", "digits": "1"},
        {"menu": "account", "digits": "4712"},
    ]
    assert sip.daemon.ari.dispatch_stats().repeated > 0  # Asterisk did send them twice


async def test_sip_wrong_key_then_silence_follow_the_rules(sip: SipFlows) -> None:
    # One wrong key uses the menu's one retry; the silence after it ends the menu (on_timeout).
    started = asyncio.get_running_loop().time()
    await sip.call(CarrierScript(keys=[Key("9", 2.0)], hold=30))
    lasted = asyncio.get_running_loop().time() - started
    call = await sip.finished_call()
    events = await sip.events(call.id)
    assert _digits(events) == [{"menu": "main", "digits": "9"}, {"menu": "main", "timeout": True}]
    # The key at 2 s, the invalid prompt, the menu again, its full 4 s of silence, goodbye.
    assert lasted > 2 + 4 + 1.4
    assert call.outcome == Outcome.ENDED_IN_MENU
    assert call.hangup_cause_code == 16


def _level(samples: list[int], freq: float, rate: int = 8000) -> float:
    """RMS-like level of one frequency in SAMPLES (Goertzel), in the samples' units."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    prev = prev2 = 0.0
    for sample in samples:
        prev, prev2 = sample + coeff * prev - prev2, prev
    power = prev2**2 + prev**2 - coeff * prev * prev2
    return math.sqrt(max(power, 0.0)) / max(len(samples), 1) * math.sqrt(2)


async def _stored_audio(sip: SipFlows, call: Call) -> AudioSegment:
    from sqlalchemy import select

    async with asyncio.timeout(90):
        while True:
            async with sip.daemon.db.read() as session:
                row = await session.scalar(select(Recording).where(Recording.call_id == call.id))
            if row is not None and row.state != RecordingState.FINISHED:
                break
            await asyncio.sleep(0.3)
    assert row.state == RecordingState.STORED
    keyring = Keyring.load(sip.tmp / "keyring.json")
    plain = decrypt(LocalStore(sip.tmp / "recordings"), row, [LocalKeyProvider(keyring)])
    check = sip.tmp / f"check.{row.format}"
    check.write_bytes(plain)
    return audio.decode(check)


@pytest.mark.parametrize("recording_format", ["opus", "wav", "mp3"])
async def test_sip_call_to_registered_phone_records_each_party_in_its_own_channel(
    sip: SipFlows, recording_format: str
) -> None:
    # The caller speaks 440 Hz, the agent's phone (baresip, PJSIP/8001) 1000 Hz.
    async with agent_phone(
        "8001",
        password=sip.asterisk.phone_password.get_secret_value(),
        sip_port=sip.asterisk.sip_port,
        workdir=sip.tmp / "phone",
        freq=1000,
    ) as phone:
        await _registered(sip, "PJSIP/8001")
        await sip.call(CarrierScript(freq=440, keys=[Key("2", 2.0)], hold=22))
        call = await sip.finished_call()
        assert call.agent_endpoint == "PJSIP/8001", phone.log()[-2000:]
    assert call.outcome == Outcome.ANSWERED
    segment = await _stored_audio(sip, call)
    assert segment.channels == 2
    customer, agent = (
        list(part.set_frame_rate(8000).get_array_of_samples()) for part in segment.split_to_mono()
    )
    figures = {
        "customer": (_level(customer, 440), _level(customer, 1000)),
        "agent": (_level(agent, 1000), _level(agent, 440)),
    }
    for side, (own, other) in figures.items():
        assert own > 500, (side, figures)  # that party's tone is there
        leak = 20 * math.log10(max(other, 1e-3) / own)
        print(f"{recording_format} {side}: own {own:.0f}, other party {leak:.1f} dB")
        assert leak < -30, (side, leak, figures)


async def _registered(sip: SipFlows, endpoint: str, max_wait: float = 20) -> None:
    tech, resource = endpoint.split("/")
    async with asyncio.timeout(max_wait):
        while (await sip.daemon.ari.endpoints.get(tech, resource)).state != "online":  # noqa: ASYNC110 (polling Asterisk)
            await asyncio.sleep(0.2)


async def test_sip_agent_phone_not_registered_is_skipped(sip: SipFlows) -> None:
    # PJSIP/8002 comes first in the department but never registers; 8001 (baresip) does.
    async with agent_phone(
        "8001",
        password=sip.asterisk.phone_password.get_secret_value(),
        sip_port=sip.asterisk.sip_port,
        workdir=sip.tmp / "phone",
    ) as phone:
        await _registered(sip, "PJSIP/8001")
        await sip.call(CarrierScript(keys=[Key("3", 2.0)], hold=10))
        call = await sip.finished_call()
        assert call.agent_endpoint == "PJSIP/8001", phone.log()[-2000:]
    rung = [e.detail["agent"] for e in await sip.events(call.id) if e.kind == "agent_rung"]
    assert rung == ["PJSIP/8001"]  # the offline phone was never rung
    assert call.outcome == Outcome.ANSWERED


@pytest.mark.parametrize(
    ("status", "outcome", "cause"),
    [
        ("486 Busy Here", Outcome.BUSY, 17),
        # Asterisk maps 480 to Q.850 19 (no answer) and 503 to 34 (congestion).
        ("480 Temporarily Unavailable", Outcome.NO_ANSWER, 19),
        ("503 Service Unavailable", Outcome.FAILED, 34),
    ],
)
async def test_sip_click_to_call_through_the_trunk_refused_stores_the_cause(
    sip: SipFlows, status: str, outcome: Outcome, cause: int
) -> None:
    # The agent's phone answers first; then the carrier refuses the customer's number.
    async with (
        carrier_refusing(
            carrier_port=sip.asterisk.carrier_port, status=status, workdir=sip.tmp / "uas"
        ) as sipp_errors,
        agent_phone(
            "8001",
            password=sip.asterisk.phone_password.get_secret_value(),
            sip_port=sip.asterisk.sip_port,
            workdir=sip.tmp / "phone",
        ),
    ):
        await _registered(sip, "PJSIP/8001")
        await sip.daemon.center.place("PJSIP/8001", "+4930666", "desk")
        call = await sip.finished_call()
    # The cause can only have come from SIPp's answer; its unexpected messages, if any, say why not.
    why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
    assert call.called_number == "+4930666"
    assert call.outcome == outcome, why
    assert call.hangup_cause_code == cause, why


async def test_sip_caller_hangs_up_while_the_agent_phone_rings(sip: SipFlows) -> None:
    # The phone rings (8 s ring timeout) and nobody answers; the caller gives up after 9 s.
    async with agent_phone(
        "8001",
        password=sip.asterisk.phone_password.get_secret_value(),
        sip_port=sip.asterisk.sip_port,
        workdir=sip.tmp / "phone",
        answer=False,
    ):
        await _registered(sip, "PJSIP/8001")
        await sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=9))
        call = await sip.finished_call()
        channels = await sip.daemon.ari.channels.list()
    assert call.outcome == Outcome.ABANDONED_IN_QUEUE
    rung = [e.detail["agent"] for e in await sip.events(call.id) if e.kind == "agent_rung"]
    assert rung == ["PJSIP/8001"]
    assert channels == []  # the ringing phone's leg was hung up with the caller
    assert call.hangup_cause_code == 16  # the caller's BYE
