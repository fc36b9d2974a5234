"""Listen, whisper and barge on the real sandbox Asterisk, with real SIP phones and RTP.

Three baresip phones, each speaking its own tone and writing what it hears to a WAV file: the
customer (PJSIP/8004, 440 Hz) dials the DID and is queued for the agent (PJSIP/8001, 1000 Hz);
the supervisor's phone (PJSIP/8002, 1700 Hz) is rung by `POST /api/supervise/calls/{id}/monitor`
and goes through whisper, listen and barge in one session. What each phone heard in each phase
is measured at the supervisor's frequency (Goertzel): the whisper reaches the agent and not the
customer (at least 30 dB apart), in listen nobody hears the supervisor while the supervisor
hears both, in barge both hear; the call's (mixed) recording holds the supervisor in barge
only. Afterwards no monitor channel or bridge is left in Asterisk,
also when the call ends while a supervisor listens.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.testing.recordings import decrypt
from zentrale.testing.sip import AgentPhone, agent_phone, have_tools

from .conftest import MONDAY_10, daemon_settings

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.asterisk,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440.0, 1000.0, 1700.0
PHASE = 5.0
"""Seconds each mode lasts; the middle of it (a second off each end) is measured."""

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
announcements:
  consent: {inbound: consent, outbound: consent}
departments:
  desk:
    agents: [{endpoint: "PJSIP/8001", name: Deniz}]
    strategy: in_order
    ring_timeout: 10s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
    recording: true
  other:
    agents: [{endpoint: "PJSIP/8003", name: Offline}]
    max_wait: 10s
    on_max_wait: {play_and_hangup: bye}
entry_rules:
  - name: everyone
    action: {department: desk}
"""


@dataclass
class Floor:
    """A daemon on the sandbox, the HTTP API, and three phones' passwords."""

    daemon: Daemon
    asterisk: SandboxInstance
    tmp: Path

    def phone(self, number: str, freq: float) -> agent_phone:  # type: ignore[valid-type]
        """Return a phone context for NUMBER speaking FREQ."""
        return agent_phone(
            number,
            password=self.asterisk.phone_password.get_secret_value(),
            sip_port=self.asterisk.sip_port,
            workdir=self.tmp / number,
            freq=freq,
            hear=True,
        )

    async def token(
        self, username: str, role: Role, departments: tuple[str, ...], phone: str | None
    ) -> str:
        """Add a user and return a bearer token of theirs."""
        users = UserStore(self.daemon.db)
        user = await users.add(
            NewUser(
                username=username,
                display_name=username.title(),
                password="a long password 1",
                role=role,
                departments=departments,
                agent_endpoint=phone,
            )
        )
        return (await users.issue_token(user.id, "test", 1)).secret

    def client(self, token: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=self.daemon.http_url, headers=headers, timeout=60)

    async def leftovers(self) -> list[str]:
        """Return the monitor channels and bridges Asterisk still holds (waiting a little)."""
        creds = self.asterisk.ari
        auth = (creds.username, creds.password.get_secret_value())
        found: list[str] = []
        async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:
            for _ in range(50):
                channels = [c["id"] for c in (await http.get("/channels")).json()]
                bridges = [b["id"] for b in (await http.get("/bridges")).json()]
                found = [i for i in channels + bridges if i.startswith("monitor-")]
                if not found:
                    return []
                await asyncio.sleep(0.1)
        return found


@pytest_asyncio.fixture
async def floor(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Floor]:
    settings = daemon_settings(tmp_path, RULES)
    recording = settings.recording.model_copy(update={"format": "wav"})
    settings = settings.model_copy(update={"recording": recording})
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield Floor(daemon, asterisk, tmp_path)


async def _registered(floor: Floor, *endpoints: str) -> None:
    creds = floor.asterisk.ari
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http, asyncio.timeout(20):
        while True:
            states = {
                f"PJSIP/{e['resource']}": e["state"]
                for e in (await http.get("/endpoints/PJSIP")).json()
            }
            if all(states.get(endpoint) == "online" for endpoint in endpoints):
                return
            await asyncio.sleep(0.2)


async def _connected_call(floor: Floor, max_wait: float = 30) -> str:
    async with asyncio.timeout(max_wait):
        while True:
            for call_id, inbound in floor.daemon.center.active.items():
                if inbound.connected_at is not None:
                    return call_id
            await asyncio.sleep(0.1)


async def _dial(customer: AgentPhone, floor: Floor) -> None:
    answer = await customer.command("dial", f"sip:100@127.0.0.1:{floor.asterisk.sip_port}")
    assert answer.get("ok"), answer


def _samples(path: Path) -> list[int]:
    """Return the 16-bit mono samples of a WAV baresip wrote (its sizes may be left at 0)."""
    data = path.read_bytes()
    start = data.index(b"data") + 8
    body = data[start : start + (len(data) - start) // 2 * 2]
    return list(struct.unpack(f"<{len(body) // 2}h", body))


def _level(samples: list[int], freq: float, rate: int = 8000) -> float:
    """The level of one frequency in SAMPLES (Goertzel), in the samples' units."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    prev = prev2 = 0.0
    for sample in samples:
        prev, prev2 = sample + coeff * prev - prev2, prev
    power = prev2**2 + prev**2 - coeff * prev * prev2
    return math.sqrt(max(power, 0.0)) / max(len(samples), 1) * math.sqrt(2)


@dataclass
class Heard:
    """A phone's heard audio, placed on the monotonic clock by its end."""

    samples: list[int]
    ended: float

    def level(self, freq: float, start: float, end: float) -> float:
        """Return FREQ's level heard between the monotonic times START and END."""
        first = len(self.samples) - int((self.ended - start) * 8000)
        last = len(self.samples) - int((self.ended - end) * 8000)
        window = self.samples[max(first, 0) : max(last, 0)]
        assert len(window) > 8000, (first, last, len(self.samples))
        return _level(window, freq)


async def _recording(floor: Floor) -> list[int]:
    """Return the call's stored recording, decrypted, as 8 kHz mono samples."""
    async with asyncio.timeout(90):
        while True:
            async with floor.daemon.db.read() as session:
                row = await session.scalar(select(Recording))
            if row is not None and row.state != RecordingState.FINISHED:
                break
            await asyncio.sleep(0.3)
    assert row.state == RecordingState.STORED
    keyring = Keyring.load(floor.tmp / "keyring.json")
    plain = decrypt(LocalStore(floor.tmp / "recordings"), row, [LocalKeyProvider(keyring)])
    check = floor.tmp / "check.wav"
    check.write_bytes(plain)
    segment = audio.decode(check).set_channels(1).set_frame_rate(8000)
    return list(segment.get_array_of_samples())


def _db(loud: float, quiet: float) -> float:
    return 20 * math.log10(max(loud, 1e-3) / max(quiet, 1e-3))


async def test_whisper_listen_barge_reach_the_right_ears_and_leave_nothing_behind(
    floor: Floor,
) -> None:
    supervisor = await floor.token("sue", Role.SUPERVISOR, ("desk",), "PJSIP/8002")
    async with (
        floor.phone("8001", AGENT_HZ) as agent,
        floor.phone("8002", SUPERVISOR_HZ) as boss,
        floor.phone("8004", CUSTOMER_HZ) as customer,
        floor.client(supervisor) as api,
    ):
        await _registered(floor, "PJSIP/8001", "PJSIP/8002", "PJSIP/8004")
        await floor.daemon.center.presence.refresh(["PJSIP/8001", "PJSIP/8002"])
        await _dial(customer, floor)
        call_id = await _connected_call(floor)
        await asyncio.sleep(1.0)
        phases: dict[str, tuple[float, float]] = {}
        started = await api.post(
            f"/api/supervise/calls/{call_id}/monitor", json={"mode": "whisper"}
        )
        assert started.status_code == 201, started.text
        session = started.json()
        assert (session["mode"], session["agent"], session["recorded"]) == (
            "whisper",
            "PJSIP/8001",
            False,
        )
        for mode in ("whisper", "listen", "barge"):
            if mode != "whisper":
                switched = await api.put(
                    f"/api/supervise/monitors/{session['id']}", json={"mode": mode}
                )
                assert switched.status_code == 200, switched.text
                assert switched.json()["recorded"] is (mode == "barge")
            begin = time.monotonic()
            await asyncio.sleep(PHASE)
            phases[mode] = (begin + 1.0, time.monotonic() - 1.0)
        shown = (await api.get("/api/supervise")).json()
        (row,) = [a for a in shown["agents"] if a["endpoint"] == "PJSIP/8001"]
        assert row["state"] == "on_call"
        assert row["call"]["monitor"]["mode"] == "barge"
        stopped = await api.delete(f"/api/supervise/monitors/{session['id']}")
        assert stopped.status_code == 200, stopped.text
        boss_ended = time.monotonic()
        assert await floor.leftovers() == []
        await asyncio.sleep(0.5)  # baresip closes the file when its call ends
        first = boss.workdir / "first-session.wav"
        first.write_bytes(boss.heard()[-1].read_bytes())
        assert floor.daemon.center.monitors.sessions == {}
        await asyncio.sleep(1.0)
        # A second session: the call ends under it; the session cleans up by itself.
        again = await api.post(f"/api/supervise/calls/{call_id}/monitor", json={"mode": "listen"})
        assert again.status_code == 201, again.text
        await asyncio.sleep(1.0)
        await customer.hang_up()
        call_ended = time.monotonic()
        (running,) = floor.daemon.center.monitors.sessions.values()
        await asyncio.wait_for(running.ended.wait(), 15)
        assert await floor.leftovers() == []
        await asyncio.sleep(1.0)
    heard = {
        "agent": Heard(_samples(agent.heard()[-1]), call_ended),
        "customer": Heard(_samples(customer.heard()[-1]), call_ended),
    }
    supervisor_heard = Heard(_samples(boss.workdir / "first-session.wav"), boss_ended)
    figures = {
        mode: {
            who: round(heard[who].level(SUPERVISOR_HZ, *phases[mode]), 1)
            for who in ("agent", "customer")
        }
        for mode in phases
    }
    print("supervisor's tone heard by", figures)
    whisper, listen, barge = figures["whisper"], figures["listen"], figures["barge"]
    assert whisper["agent"] > 300
    assert _db(whisper["agent"], whisper["customer"]) >= 30
    assert _db(whisper["agent"], listen["agent"]) >= 30
    assert _db(whisper["agent"], listen["customer"]) >= 30
    assert barge["agent"] > 300
    assert barge["customer"] > 300
    # Both parties still heard each other all along, and the supervisor heard both.
    for mode in phases:
        assert supervisor_heard.level(CUSTOMER_HZ, *phases[mode]) > 300
        assert supervisor_heard.level(AGENT_HZ, *phases[mode]) > 300
        assert heard["agent"].level(CUSTOMER_HZ, *phases[mode]) > 300
        assert heard["customer"].level(AGENT_HZ, *phases[mode]) > 300
    # The recording stops as the call ends: placed on the clock by its end like the phones'.
    recorded = Heard(await _recording(floor), call_ended)
    in_recording = {m: round(recorded.level(SUPERVISOR_HZ, *phases[m]), 1) for m in phases}
    print("supervisor's tone in the recording", in_recording)
    assert in_recording["barge"] > 300
    assert _db(in_recording["barge"], in_recording["whisper"]) >= 30
    assert _db(in_recording["barge"], in_recording["listen"]) >= 30
    async with floor.daemon.db.read() as session_:
        actions = list(await session_.scalars(select(AuditEntry.action)))
    assert actions.count("monitor.start") == 2
    assert actions.count("monitor.switch") == 2
    assert actions.count("monitor.stop") == 1
    assert actions.count("monitor.ended") == 2
