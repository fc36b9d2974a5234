"""Trunks from the settings on real SIP: the carrier (SIPp) calls a DID, and receives our calls.

The sandbox's carrier trunk (PJSIP endpoint `carrier`, src/zentrale/sandbox/asterisk/pjsip.conf)
is configured as a German trunk: its DIDs come in national form and are stored in E.164; one
DID goes to a named entry rule; numbers go out in national form with a prefix and the
department's caller ID, at most one channel at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.calls.models import Call, Outcome
from zentrale.calls.store import CallStore
from zentrale.config.settings import TrunkSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.testing.sip import CarrierScript, agent_phone, carrier_call, have_tools, messages_of
from zentrale.testing.sip import carrier_answering as sip_carrier_answering
from zentrale.testing.trunk import carrier_answering, invites

from .conftest import MONDAY_10, daemon_settings
from .test_campaigns import _until
from .test_sip_campaigns import _acked

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
announcements:
  consent: {outbound: consent}
departments:
  desk:
    agents: [{endpoint: "PJSIP/8001", name: Deniz}]
    ring_timeout: 8s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
menus:
  main:
    prompt: menu
    options: {"1": {department: desk}}
    timeout: 3s
    retries: 0
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - name: everyone
    action: {menu: main}
  - name: hotline  # never reached by the rules' order: the trunk sends its DID here
    action: {play_and_hangup: bye}
"""

TRUNK = {
    "endpoint": "carrier",
    "country": "DE",
    "inbound": {"dids": {"+49 30 1234567": "hotline"}},
    "outbound": {
        "format": "national",
        "prefix": "9",
        "caller_id": "+49301234560",
        "department_caller_id": {"desk": "+49301234561"},
        "max_channels": 1,
    },
}


@dataclass
class Trunked:
    daemon: Daemon
    asterisk: SandboxInstance
    tmp: Path

    async def finished_calls(self, count: int, max_wait: float = 60) -> list[Call]:
        """Wait until COUNT calls have ended and are written; return them, oldest first."""
        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                async with self.daemon.db.read() as session:
                    calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
                ended = [call for call in calls if call.ended_at is not None]
                if len(ended) >= count and not self.daemon.center.active:
                    return ended
                await asyncio.sleep(0.2)


@pytest_asyncio.fixture
async def trunked(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Trunked]:
    settings = daemon_settings(tmp_path, RULES)
    settings = settings.model_copy(
        update={"trunks": {"carrier-de": TrunkSettings.model_validate(TRUNK)}}
    )
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield Trunked(daemon, asterisk, tmp_path)


async def test_trunk_dids_are_stored_in_e164_and_go_to_their_entry_rules(
    trunked: Trunked,
) -> None:
    # The carrier sends DIDs as German carriers do (national); one DID is the hotline's.
    for did, workdir in (("0301234567", "hotline"), ("0301234599", "other")):
        done = await carrier_call(
            sip_port=trunked.asterisk.sip_port,
            carrier_port=trunked.asterisk.carrier_port,
            script=CarrierScript(did=did, hold=8),
            workdir=trunked.tmp / workdir,
        )
        assert done.returncode == 0, done.output
    hotline, other = await trunked.finished_calls(2)
    assert hotline.dialled_number == "+49301234567"
    assert hotline.outcome == Outcome.MESSAGE  # the hotline rule's goodbye, no menu
    assert other.dialled_number == "+49301234599"  # not listed: routed by the rules
    assert other.outcome == Outcome.ENDED_IN_MENU  # the catch-all's menu, then its timeout
    steps = [e.detail for e in await CallStore(trunked.daemon.db).events(other.id)]
    assert {"menu": "main", "timeout": True} in steps


async def _registered(daemon: Daemon, resource: str, max_wait: float = 20) -> None:
    async with asyncio.timeout(max_wait):
        while (await daemon.ari.endpoints.get("PJSIP", resource)).state != "online":  # noqa: ASYNC110 (polling Asterisk)
            await asyncio.sleep(0.2)


async def _token(daemon: Daemon) -> str:
    users = UserStore(daemon.db)
    user = await users.add(
        NewUser(
            username="sven",
            display_name="Sven",
            password="a long password 1",
            role=Role.SUPERVISOR,
            departments=("desk",),
        )
    )
    return (await users.issue_token(user.id, "test", 1)).secret


async def test_click_to_call_reaches_the_carrier_formatted_with_caller_id_and_limit(
    trunked: Trunked,
) -> None:
    daemon, asterisk = trunked.daemon, trunked.asterisk
    assert daemon.http_url is not None
    headers = {"Authorization": f"Bearer {await _token(daemon)}"}
    body = {"number": "030666777", "agent": "PJSIP/8001", "department": "desk"}
    async with (
        carrier_answering(carrier_port=asterisk.carrier_port, workdir=trunked.tmp / "uas") as trace,
        agent_phone(
            "8001",
            password=asterisk.phone_password.get_secret_value(),
            sip_port=asterisk.sip_port,
            workdir=trunked.tmp / "phone",
        ),
        httpx.AsyncClient(base_url=daemon.http_url, headers=headers, timeout=60) as api,
    ):
        await _registered(daemon, "8001")
        placed = await api.post("/api/calls", json=body)
        assert placed.status_code == 200, placed.text
        assert placed.json()["result"] == "answered"
        # The trunk's one channel is in use: a second click-to-call is refused at once.
        full = await api.post("/api/calls", json=body)
        assert full.status_code == 503, full.text
        assert full.json()["error"]["code"] == "trunk-full"
        for channel in await daemon.ari.channels.list():
            await daemon.ari.channels.hangup(channel.id)
        (call,) = await trunked.finished_calls(1)
    # A national number is read in the trunk's country (DE, while the call centre is in TR).
    # What the carrier received: 9 (prefix) + 030666777 (national), the department's number.
    (invite,) = invites(trace)
    assert invite.user == "9030666777"
    assert invite.from_user == "+49301234561"
    assert invite.asserted == "+49301234561"
    assert call.outcome == Outcome.ANSWERED
    assert call.called_number == "+4930666777"
    assert daemon.center.services.trunks.busy == {"carrier-de": 0}  # the channel was given back


async def test_the_carrier_with_numbers_from_an_injection_file_as_the_benchmark_calls(
    trunked: Trunked,
) -> None:
    # bench/calls.py's SIP mode uses this scenario: each call's DID and caller from SIPp's
    # injection file, the caller waiting for Asterisk's BYE.
    done = await carrier_call(
        sip_port=trunked.asterisk.sip_port,
        carrier_port=trunked.asterisk.carrier_port,
        script=CarrierScript(hold=15, injected=True),
        workdir=trunked.tmp / "bench",
        calls=[("0301234567", "+905550000001"), ("0301234567", "+905550000002")],
    )
    assert done.returncode == 0, done.output
    calls = await trunked.finished_calls(2)
    assert [(c.dialled_number, c.caller_number) for c in calls] == [
        ("+49301234567", "+905550000001"),
        ("+49301234567", "+905550000002"),
    ]
    assert {c.outcome for c in calls} == {Outcome.MESSAGE}  # the hotline's goodbye, then BYE


async def test_click_to_call_through_a_trunk_nobody_answers_is_unreachable_with_its_cause(
    trunked: Trunked,
) -> None:
    # No carrier on the trunk's address: the INVITE is never answered, nothing rings.
    daemon, asterisk = trunked.daemon, trunked.asterisk
    async with agent_phone(
        "8001",
        password=asterisk.phone_password.get_secret_value(),
        sip_port=asterisk.sip_port,
        workdir=trunked.tmp / "phone",
    ):
        await _registered(daemon, "8001")
        placed = await daemon.center.place("PJSIP/8001", "030666888", "desk")
        (call,) = await trunked.finished_calls(1)
        # Asterisk still retransmits the INVITE (timer B): a carrier back takes it, cancelled.
        late = trunked.tmp / "late"
        async with sip_carrier_answering(
            carrier_port=asterisk.carrier_port, workdir=late, answer=False
        ):
            await _until(lambda: _acked(messages_of(late)), "the late INVITE", max_wait=40)
    assert placed.result == "unavailable"
    assert call.outcome == Outcome.FAILED
    assert call.hangup_cause_code == 18  # no user responding: not "no answer" (19)
    assert daemon.center.services.trunks.busy == {"carrier-de": 0}
