"""More real SIP on the sandbox: click-to-call through the trunk, an agent's phone hanging up,
keys sent as SIP INFO, and a blind transfer between agents on registered phones.

The carrier and the customers behind it are SIPp; the agents' phones are baresip (see
`zentrale.testing.sip`). Shared pieces (the daemon fixture's shape, stored audio, levels) come
from test_sip_calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydub import AudioSegment
from sqlalchemy import select

from zentrale.calls.models import Call, CallEvent, Outcome
from zentrale.daemon import Daemon
from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.telephony.ari.events import ChannelTransfer
from zentrale.telephony.ari.primitives import channel_key
from zentrale.testing.recordings import decrypt
from zentrale.testing.sip import (
    CarrierScript,
    Key,
    agent_phone,
    carrier_answering,
    carrier_call,
    free_udp_port,
    have_tools,
)

from .conftest import MONDAY_10, daemon_settings
from .test_sip_calls import SIP_RULES, SipFlows, _level, _registered, _stored_audio

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

# The shared rules, plus a second department on phone 8002 for transfers.
RULES = SIP_RULES.replace(
    "menus:\n",
    """  backoffice:
    agents: [{endpoint: "PJSIP/8002", name: Emre}]
    strategy: in_order
    ring_timeout: 8s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
    recording: true
menus:
""",
    1,
).replace(
    "entry_rules:\n",
    """entry_rules:
  - name: backoffice line  # the number an agent's phone dials to consult the back office
    match: {did: ["201"]}
    action: {department: backoffice}
""",
    1,
)


@pytest_asyncio.fixture
async def sip(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[SipFlows]:
    settings = daemon_settings(tmp_path, RULES, two_party=True)
    recording = settings.recording.model_copy(update={"format": "wav"})
    telephony = settings.telephony.model_copy(
        update={"outbound_endpoint": "PJSIP/{number}@carrier"}
    )
    settings = settings.model_copy(update={"recording": recording, "telephony": telephony})
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield SipFlows(daemon, asterisk, tmp_path)


def _kinds(events: list[CallEvent]) -> list[str]:
    return [str(event.kind) for event in events]


def _party_levels(
    segment: AudioSegment, agent_freq: float = 1000
) -> dict[str, tuple[float, float]]:
    """Each channel's level of its own party's tone, then of the other's (440 Hz the caller)."""
    customer, agent = (
        list(part.set_frame_rate(8000).get_array_of_samples()) for part in segment.split_to_mono()
    )
    return {
        "customer": (_level(customer, 440), _level(customer, agent_freq)),
        "agent": (_level(agent, agent_freq), _level(agent, 440)),
    }


async def _recordings(sip: SipFlows, call_id: str, count: int = 2) -> list[Recording]:
    """Wait until the call's COUNT recordings are past FINISHED; return them in order."""
    async with asyncio.timeout(90):
        while True:
            async with sip.daemon.db.read() as session:
                query = select(Recording).where(Recording.call_id == call_id)
                rows = list(await session.scalars(query.order_by(Recording.created_at)))
            if len(rows) >= count and all(r.state != RecordingState.FINISHED for r in rows):
                return rows
            await asyncio.sleep(0.3)


def _audio_of(sip: SipFlows, row: Recording) -> AudioSegment:
    """Decrypt a stored recording and decode it."""
    assert row.state == RecordingState.STORED, row.state
    keyring = Keyring.load(sip.tmp / "keyring.json")
    plain = decrypt(LocalStore(sip.tmp / "recordings"), row, [LocalKeyProvider(keyring)])
    check = sip.tmp / f"{row.id}.{row.format}"
    check.write_bytes(plain)
    return audio.decode(check)


# -- click-to-call through the trunk ---------------------------------------------------------


async def test_sip_click_to_call_through_the_trunk_answered(sip: SipFlows) -> None:
    # The agent's phone answers, the customer's (SIPp behind the carrier) rings 1 s, answers,
    # speaks 440 Hz for 6 s and hangs up.
    async with (
        carrier_answering(
            carrier_port=sip.asterisk.carrier_port, workdir=sip.tmp / "uas", ring=1, hold=6
        ) as sipp_errors,
        agent_phone(
            "8001",
            password=sip.asterisk.phone_password.get_secret_value(),
            sip_port=sip.asterisk.sip_port,
            workdir=sip.tmp / "phone",
        ),
    ):
        await _registered(sip, "PJSIP/8001")
        placed = await sip.daemon.center.place("PJSIP/8001", "+4930777", "desk")
        call = await sip.finished_call()
    why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
    assert placed.result == "answered", why
    assert (call.called_number, call.agent_endpoint) == ("+4930777", "PJSIP/8001")
    assert call.outcome == Outcome.ANSWERED
    # The customer's BYE ended it: a normal end, as Asterisk reports it.
    assert (call.hangup_cause_code, call.hangup_cause_text) == (16, "Normal Clearing")
    levels = _party_levels(await _stored_audio(sip, call))
    own = levels["customer"][0]
    assert own > 500, levels  # the customer's speech through the trunk is in the recording


async def test_sip_click_to_call_through_the_trunk_no_answer(sip: SipFlows) -> None:
    # The customer's phone rings and nobody answers: zentrale gives up after its 30 s.
    async with (
        carrier_answering(
            carrier_port=sip.asterisk.carrier_port, workdir=sip.tmp / "uas", answer=False
        ) as sipp_errors,
        agent_phone(
            "8001",
            password=sip.asterisk.phone_password.get_secret_value(),
            sip_port=sip.asterisk.sip_port,
            workdir=sip.tmp / "phone",
        ),
    ):
        await _registered(sip, "PJSIP/8001")
        placed = await sip.daemon.center.place("PJSIP/8001", "+4930888", "desk")
        call = await sip.finished_call()
        channels = await sip.daemon.ari.channels.list()
    why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
    assert placed.result == "no_answer", why
    assert call.outcome == Outcome.NO_ANSWER
    assert (call.hangup_cause_code, call.hangup_cause_text) == (19, "User alerting, no answer")
    assert channels == []  # neither the agent's leg nor the ringing one is left


# -- the agent hangs up ----------------------------------------------------------------------


async def test_sip_agent_hangs_up_ends_the_call_with_its_recording(sip: SipFlows) -> None:
    # The caller (440 Hz) presses 2 for the desk and would stay 40 s; the agent on the baresip
    # phone (1000 Hz) talks for 5 s and ends the call with the phone's hang-up.
    async with agent_phone(
        "8001",
        password=sip.asterisk.phone_password.get_secret_value(),
        sip_port=sip.asterisk.sip_port,
        workdir=sip.tmp / "phone",
    ) as phone:
        await _registered(sip, "PJSIP/8001")
        script = CarrierScript(keys=[Key("2", 2.0)], hold=40, audio=14)
        caller = asyncio.create_task(sip.call(script))
        await _connected(sip)
        await asyncio.sleep(5)  # the conversation (the agent's part of the scene)
        await phone.hang_up()
        await caller  # SIPp is done once zentrale's BYE reached the caller
        call = await sip.finished_call()
    events = await sip.events(call.id)
    kinds = _kinds(events)
    assert call.outcome == Outcome.ANSWERED
    assert call.agent_endpoint == "PJSIP/8001"
    assert (call.hangup_cause_code, call.hangup_cause_text) == (16, "Normal Clearing")
    # The agent left first: the conversation ended, then zentrale hung up on the caller.
    assert kinds.index("conversation_ended") < kinds.index("hangup")
    assert call.agent_answered_at is not None
    assert call.ended_at is not None
    talk = (call.ended_at - call.agent_answered_at).total_seconds()
    segment = await _stored_audio(sip, call)
    # The recording holds the 5 s conversation, both parties, not the caller's 40 s.
    assert 3 < segment.duration_seconds < 15, (segment.duration_seconds, talk)
    assert talk < 20, talk
    levels = _party_levels(segment)
    assert min(levels["customer"][0], levels["agent"][0]) > 500, levels


async def _connected(sip: SipFlows, max_wait: float = 30) -> str:
    """Wait until an agent answered the (one) inbound call; return its id."""
    async with asyncio.timeout(max_wait):
        while True:
            await sip.daemon.journal.flush()
            async with sip.daemon.db.read() as session:
                answered = await session.scalar(
                    select(Call.id).where(Call.agent_answered_at.is_not(None))
                )
            if answered is not None:
                return answered
            await asyncio.sleep(0.2)


# -- keys as SIP INFO ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trunk", "dtmf", "offer_events"),
    [
        ("info", "info", True),  # dtmf_mode=info: INFO even though the SDP offers RFC 4733
        ("auto_info", "info", False),  # auto_info: INFO because the SDP offers no events
        ("inband", "inband", False),  # the keys' tones in the caller's PCMU audio
    ],
)
async def test_sip_info_and_inband_keys_reach_menu_and_entry_once(
    sip: SipFlows, trunk: str, dtmf: str, offer_events: bool
) -> None:
    # As test_sip_calls' RFC 4733 test: 1 in the menu, then a four-digit account number, each
    # key one SIP INFO request from a carrier trunk with that DTMF mode.
    keys = [Key("1", 2.0), Key("4", 4.5), Key("7", 5.1), Key("1", 5.7), Key("2", 6.3)]
    script = CarrierScript(
        keys=keys,
        hold=25,
        dtmf=dtmf,
        offer_events=offer_events,
        headers=(f"X-Zentrale-Trunk: {trunk}",),
    )
    done = await carrier_call(
        sip_port=sip.asterisk.sip_port,
        carrier_port=free_udp_port(),  # not the plain trunk's port: the header picks the trunk
        script=script,
        workdir=sip.tmp / "sipp",
    )
    assert done.returncode == 0, done.output
    call = await sip.finished_call()
    assert call.outcome == Outcome.MESSAGE, done.output  # the entry's then: a goodbye
    digits = [dict(e.detail) for e in await sip.events(call.id) if e.kind == "digit"]
    assert digits == [
        {"menu": "main", "digits": "1"},
        {"menu": "account", "digits": "4712"},
    ]


# -- blind transfer between agents on SIP phones ---------------------------------------------


@pytest.mark.parametrize("how", ["phone", "api"])
async def test_sip_blind_transfer_between_agents_on_registered_phones(
    sip: SipFlows, how: str
) -> None:
    # The caller (440 Hz) reaches Deniz at the desk (phone 8001, 1000 Hz), who blind-transfers
    # the call to the back office: with the phone's transfer key (a SIP REFER to
    # sip:backoffice@...), or through the API (POST /calls/ID/transfer, here the call centre's
    # method behind it). Emre answers there (phone 8002, 1500 Hz).
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1") as desk,
        agent_phone(
            "8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500
        ) as office,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        script = CarrierScript(keys=[Key("2", 2.0)], hold=16)
        caller = asyncio.create_task(sip.call(script))
        call_id = await _connected(sip)
        await asyncio.sleep(3)  # Deniz talks to the caller
        if how == "phone":
            await desk.transfer("backoffice")
        else:
            await sip.daemon.center.transfer(call_id, "department", "backoffice")
        await caller  # the caller hangs up at 16 s, talking to Emre
        call = await sip.finished_call()
        logs = desk.log()[-1500:] + office.log()[-1500:]
    events = await sip.events(call.id)
    answered = [e.detail["agent"] for e in events if e.kind == "agent_answered"]
    assert answered == ["PJSIP/8001", "PJSIP/8002"], logs
    transfers = [dict(e.detail) for e in events if e.kind == "transfer"]
    assert transfers == [{"to": "department:backoffice"}]
    assert (call.agent_endpoint, call.agent_name) == ("PJSIP/8002", "Emre")
    assert call.transfers == 1
    assert call.outcome == Outcome.ANSWERED  # the second agent's conversation ended it
    recordings = await _recordings(sip, call.id)
    assert [(r.agent_endpoint, r.department) for r in recordings] == [
        ("PJSIP/8001", "desk"),
        ("PJSIP/8002", "backoffice"),
    ]
    # Each conversation's recording holds the caller and that conversation's agent only.
    first, second = (_audio_of(sip, row) for row in recordings)
    print("transfer levels", _party_levels(first, 1000), _party_levels(second, 1500))
    assert _party_levels(first, 1000)["agent"][0] > 500
    assert _party_levels(second, 1500)["agent"][0] > 500
    assert _party_levels(first, 1500)["agent"][0] < 50  # Emre is not in Deniz's recording
    assert _party_levels(second, 1000)["agent"][0] < 50


async def test_sip_click_to_call_transferred_by_the_agents_phone(sip: SipFlows) -> None:
    # Deniz (phone 8001, 1000 Hz) calls a customer through the trunk (SIPp behind the carrier,
    # 440 Hz, hangs up 22 s after answering); 4 s into the conversation his phone's transfer
    # key sends a REFER to sip:backoffice@...: Emre (phone 8002, 1500 Hz) is rung, answers
    # and talks with the customer until the customer's BYE.
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        carrier_answering(
            carrier_port=sip.asterisk.carrier_port, workdir=sip.tmp / "uas", ring=1, hold=22
        ) as sipp_errors,
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1") as desk,
        agent_phone(
            "8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500
        ) as office,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        placed = await sip.daemon.center.place("PJSIP/8001", "+4930777", "desk")
        why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
        assert placed.result == "answered", why
        await asyncio.sleep(4)  # the consent notice, then Deniz talks to the customer
        await desk.transfer("backoffice")
        call = await sip.finished_call(max_wait=60)
        logs = desk.log()[-1500:] + office.log()[-1500:]
        channels = await sip.daemon.ari.channels.list()
    events = await sip.events(call.id)
    kinds = _kinds(events)
    answered = [e.detail["agent"] for e in events if e.kind == "agent_answered"]
    assert answered == ["PJSIP/8001", "PJSIP/8002"], (kinds, logs)
    transfers = [dict(e.detail) for e in events if e.kind == "transfer"]
    assert transfers == [{"to": "department:backoffice"}]
    ended = [e.detail["agent"] for e in events if e.kind == "conversation_ended"]
    assert ended == ["PJSIP/8001", "PJSIP/8002"], kinds
    assert kinds.count("hangup") == 1  # one call, one end
    assert (call.agent_endpoint, call.agent_name) == ("PJSIP/8002", "Emre")
    assert (call.called_number, call.department) == ("+4930777", "backoffice")
    assert call.transfers == 1
    assert call.outcome == Outcome.ANSWERED  # Emre's conversation ended it
    assert (call.hangup_cause_code, call.hangup_cause_text) == (16, "Normal Clearing")
    assert channels == []  # neither agent's leg nor the trunk's is left
    assert sip.daemon.center.services.trunks.busy.get("carrier", 0) == 0
    recordings = await _recordings(sip, call.id)
    assert [(r.agent_endpoint, r.department) for r in recordings] == [
        ("PJSIP/8001", "desk"),
        ("PJSIP/8002", "backoffice"),
    ]
    first, second = (_audio_of(sip, row) for row in recordings)
    print("click-to-call transfer levels", _party_levels(first), _party_levels(second, 1500))
    assert _party_levels(first)["customer"][0] > 500  # the customer through the trunk
    assert _party_levels(first)["agent"][0] > 500
    assert _party_levels(second, 1500)["customer"][0] > 500
    assert _party_levels(second, 1500)["agent"][0] > 500
    assert _party_levels(first, 1500)["agent"][0] < 50  # Emre is not in Deniz's recording
    assert _party_levels(second, 1000)["agent"][0] < 50


# -- an attended transfer from the phone (REFER with Replaces) -------------------------------


async def _consultation(sip: SipFlows, prefix: str, max_wait: float = 20) -> str:
    """Wait for the channel of a call from the phone PREFIX (e.g. PJSIP/8002-); return the
    Replaces value that names its dialog as Asterisk holds it (to-tag: Asterisk's own)."""
    ari = sip.daemon.ari
    async with asyncio.timeout(max_wait):
        while True:
            found = [c for c in await ari.channels.list() if c.name.startswith(prefix)]
            if found and found[0].state == "Up":
                break
            await asyncio.sleep(0.2)
    parts = [
        await ari.channels.get_variable(found[0].id, f"CHANNEL(pjsip,{name})")
        for name in ("call-id", "local_tag", "remote_tag")
    ]
    assert all(parts), parts
    call_id, local, remote = parts
    return f"{call_id}%3Bto-tag%3D{local}%3Bfrom-tag%3D{remote}"


async def test_sip_attended_transfer_to_no_agent_is_declined_and_the_caller_requeued(
    sip: SipFlows,
) -> None:
    # The caller (440 Hz, stays 26 s) reaches Deniz at the desk (phone 8001). A consultation
    # call is up that no agent answered: phone 8002 has called 200 (the rules' menu answers
    # it). Deniz's phone then sends an attended transfer's REFER: Refer-To
    # <sip:backoffice@...?Replaces=(the consultation's dialog)>. Asterisk reports it as
    # ChannelTransfer with the consultation's Call-ID and channel; zentrale declines it (the
    # user part names a department, but an attended transfer is never taken as a blind one)
    # and leaves the consultation alone. baresip 1.0 hangs up the caller's call when its
    # transfer is declined: the caller, not hung up on, goes back into the desk's queue and
    # reaches Deniz again.
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1") as desk,
        agent_phone(
            "8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500
        ) as other,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        script = CarrierScript(keys=[Key("2", 2.0)], hold=26)
        caller = asyncio.create_task(sip.call(script))
        call_id = await _connected(sip)
        dialled = await other.command("dial", f"sip:200@127.0.0.1:{port}")
        assert dialled.get("ok"), dialled
        replaces = await _consultation(sip, "PJSIP/8002-")
        (agent_leg,) = [
            c.id for c in await sip.daemon.ari.channels.list() if c.name.startswith("PJSIP/8001-")
        ]
        refer_to = f"<sip:backoffice@127.0.0.1:{port}?Replaces={replaces}>"
        with sip.daemon.ari.subscribe(
            channel_key(agent_leg), lambda e: isinstance(e, ChannelTransfer)
        ) as transfers:
            referred = await desk.command("transfer", refer_to)
            assert referred.get("ok"), referred
            event = await transfers.get(10)
        await asyncio.sleep(3)  # had zentrale taken it, the caller would be moving now
        consultation_up = [
            c.name for c in await sip.daemon.ari.channels.list() if c.name.startswith("PJSIP/8002-")
        ]
        await other.command("hangup")
        await caller  # the caller hangs up at 26 s, talking to Deniz again
        calls = await _all_finished(sip, 2)
        logs = desk.log()
    print("attended ChannelTransfer", event)
    print("timeline", [(str(e.kind), dict(e.detail)) for e in await sip.events(call_id)])
    assert isinstance(event, ChannelTransfer)
    assert event.attended
    assert event.destination == "backoffice"
    consulted = event.refer_to.destination_channel
    assert consulted is not None
    assert consulted.name.startswith("PJSIP/8002-")
    call = next(c for c in calls if c.id == call_id)
    events = await sip.events(call.id)
    answered = [e.detail["agent"] for e in events if e.kind == "agent_answered"]
    assert "603 Decline" in logs  # what the phone was told
    assert answered == ["PJSIP/8001", "PJSIP/8001"], logs[-2000:]
    transfers = [dict(e.detail) for e in events if e.kind == "transfer"]
    assert transfers == [{"to": "department:desk", "after": "phone transfer declined"}]
    assert (call.agent_endpoint, call.department, call.transfers) == ("PJSIP/8001", "desk", 1)
    assert call.outcome == Outcome.ANSWERED
    assert consultation_up  # the consultation was not touched by the declined transfer
    recordings = await _recordings(sip, call.id)
    assert [(r.agent_endpoint, r.department) for r in recordings] == [
        ("PJSIP/8001", "desk"),
        ("PJSIP/8001", "desk"),
    ]
    levels = _party_levels(_audio_of(sip, recordings[1]))
    assert min(levels["customer"][0], levels["agent"][0]) > 500, levels


async def _all_finished(sip: SipFlows, count: int, max_wait: float = 60) -> list[Call]:
    """Wait until COUNT calls have ended and are written; return them."""
    async with asyncio.timeout(max_wait):
        while True:
            await sip.daemon.journal.flush()
            async with sip.daemon.db.read() as session:
                calls = list(await session.scalars(select(Call)))
            if len([c for c in calls if c.ended_at is not None]) >= count:
                return calls
            await asyncio.sleep(0.2)


async def _consulting(sip: SipFlows, endpoint: str, max_wait: float = 30) -> None:
    """Wait until ENDPOINT's agent talks with a caller (the phone's consultation)."""
    async with asyncio.timeout(max_wait):
        while not any(  # noqa: ASYNC110 (the flow's state, no event to wait for)
            c.agent_endpoint == endpoint and c.conversation is not None
            for c in sip.daemon.center.active.values()
        ):
            await asyncio.sleep(0.2)


async def test_sip_attended_transfer_from_the_phone_hands_the_consulted_agent_over(
    sip: SipFlows,
) -> None:
    # The caller (440 Hz, stays 30 s) reaches Deniz at the desk (phone 8001, 1000 Hz). Deniz
    # consults the back office: a call from the phone to 201 (the back office's number in the
    # rules) reaches Emre (phone 8002, 1500 Hz). The consultation is placed by phone 8003 in
    # Deniz's stead (baresip 1.0 sends a transfer on its newest call, the consultation, not on
    # the caller's). Deniz's phone then completes: REFER with Refer-To <sip:201@...?Replaces=
    # (the consultation's dialog)>. Emre goes on with the caller; nobody is rung again.
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1") as desk,
        agent_phone(
            "8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500
        ) as office,
        agent_phone(
            "8003", password=password, sip_port=port, workdir=sip.tmp / "p3", freq=700
        ) as line2,
    ):
        for phone in ("PJSIP/8001", "PJSIP/8002", "PJSIP/8003"):
            await _registered(sip, phone)
        script = CarrierScript(keys=[Key("2", 2.0)], hold=30)
        caller = asyncio.create_task(sip.call(script))
        call_id = await _connected(sip)
        dialled = await line2.command("dial", f"sip:201@127.0.0.1:{port}")
        assert dialled.get("ok"), dialled
        await _consulting(sip, "PJSIP/8002")
        replaces = await _consultation(sip, "PJSIP/8003-")
        referred = await desk.command("transfer", f"<sip:201@127.0.0.1:{port}?Replaces={replaces}>")
        assert referred.get("ok"), referred
        await caller  # the caller hangs up at 30 s, talking to Emre
        calls = await _all_finished(sip, 2)
        logs = desk.log()[-1500:] + office.log()[-1500:] + line2.log()[-1500:]
    call = next(c for c in calls if c.id == call_id)
    consultation = next(c for c in calls if c.id != call_id)
    events = await sip.events(call.id)
    print("timeline", [(str(e.kind), dict(e.detail)) for e in events])
    answered = [e.detail["agent"] for e in events if e.kind == "agent_answered"]
    assert answered == ["PJSIP/8001", "PJSIP/8002"], logs
    rung = [e.detail["agent"] for e in events if e.kind == "agent_rung"]
    assert rung == ["PJSIP/8001"]  # Emre was not rung again: he was handed over
    transfers = [dict(e.detail) for e in events if e.kind == "transfer"]
    assert transfers == [
        {
            "mode": "attended",
            "by": "PJSIP/8001",
            "to": "department:backoffice",
            "agent": "PJSIP/8002",
            "outcome": "completed",
            "phone": "refer",
        }
    ]
    assert (call.agent_endpoint, call.agent_name, call.department) == (
        "PJSIP/8002",
        "Emre",
        "backoffice",
    )
    assert call.transfers == 1
    assert call.outcome == Outcome.ANSWERED  # Emre's conversation ended it
    # The consultation's call ended there: its agent went to the caller.
    assert consultation.outcome == Outcome.TRANSFERRED
    assert consultation.agent_endpoint == "PJSIP/8002"
    recordings = await _recordings(sip, call.id)
    assert [(r.agent_endpoint, r.department) for r in recordings] == [
        ("PJSIP/8001", "desk"),
        ("PJSIP/8002", "backoffice"),
    ]
    second = _audio_of(sip, recordings[1])
    print("attended levels", _party_levels(second, 1500))
    assert _party_levels(second, 1500)["customer"][0] > 500
    assert _party_levels(second, 1500)["agent"][0] > 500
    assert _party_levels(second, 1000)["agent"][0] < 50  # Deniz is not in Emre's recording
