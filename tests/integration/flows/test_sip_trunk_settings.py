"""A trunk whose SIP side is only in zentrale's settings (`trunks.<name>.sip`), on real SIP.

No pjsip.conf section names it: zentrale creates its endpoint, aor, identify (and, when it
registers, its auth and outbound registration) through ARI at connect. SIPp plays the
carrier from its own port on 127.0.0.1 (the sandbox's hand-written carrier sends from
another): its calls are recognised as the trunk's by that source address, its DID routed
and stored; click-to-call goes out to the trunk's host; a SIPp registrar receives the
trunk's REGISTER, challenges it, checks the digest and calls the registered contact (known
by Asterisk's `line` parameter alone). Removed from the settings, the trunk's objects are
deleted from Asterisk at the next push.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from zentrale.calls.models import Call, Outcome
from zentrale.config.settings import TrunkSettings
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.telephony.ari import AriNotFoundError
from zentrale.telephony.trunk_sip import FILE_NAME, push_trunks
from zentrale.testing.sip import (
    CarrierScript,
    agent_phone,
    carrier_call,
    free_udp_port,
    have_tools,
    messages_of,
    sipp_server,
)
from zentrale.testing.trunk import carrier_answering, invites

from .conftest import MONDAY_10, daemon_settings
from .test_sip_trunks import RULES, _registered, _token

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

PASSWORD = "a carrier's secret 7"


def _trunk(port: int, **sip: Any) -> TrunkSettings:
    return TrunkSettings.model_validate(
        {
            "country": "DE",
            "inbound": {"dids": {"+49 40 7654321": "hotline"}},
            "outbound": {"format": "national", "caller_id": "+49407654320"},
            "sip": {
                "host": f"127.0.0.1:{port}",
                "match": [f"127.0.0.1:{port}"],
                "codecs": ["ulaw", "alaw"],
                **sip,
            },
        }
    )


@contextlib.asynccontextmanager
async def _daemon(
    asterisk: SandboxInstance,
    tmp: Path,
    trunks: Mapping[str, TrunkSettings],
    *,
    clean: bool = True,
) -> AsyncIterator[Daemon]:
    settings = daemon_settings(tmp, RULES).model_copy(update={"trunks": dict(trunks)})
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        try:
            yield daemon
        finally:
            if clean:  # leave the shared sandbox as it was: what zentrale made is deleted
                await push_trunks(daemon.ari.asterisk, {}, settings.state_dir)


async def _ended(daemon: Daemon, count: int, max_wait: float = 60) -> list[Call]:
    async with asyncio.timeout(max_wait):
        while True:
            await daemon.journal.flush()
            async with daemon.db.read() as session:
                calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
            ended = [call for call in calls if call.ended_at is not None]
            if len(ended) >= count and not daemon.center.active:
                return ended
            await asyncio.sleep(0.2)


async def _gone(daemon: Daemon, object_type: str, object_id: str) -> bool:
    try:
        await daemon.ari.asterisk.get_object("res_pjsip", object_type, object_id)
    except AriNotFoundError:
        return True
    return False


async def test_calls_from_the_trunks_address_are_its_calls_and_removal_deletes_it(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    port = free_udp_port()
    trunks = {"hamburg": _trunk(port)}
    async with _daemon(asterisk, tmp_path, trunks, clean=False) as daemon:
        endpoint = await daemon.ari.endpoints.get("PJSIP", "hamburg")
        assert endpoint.resource == "hamburg"  # made by zentrale: pjsip.conf has no such trunk
        for did, workdir in (("0407654321", "hotline"), ("0407654399", "other")):
            done = await carrier_call(
                sip_port=asterisk.sip_port,
                carrier_port=port,
                script=CarrierScript(did=did, hold=8),
                workdir=tmp_path / workdir,
            )
            assert done.returncode == 0, done.output
        hotline, other = await _ended(daemon, 2)
        state_dir = daemon.center.services.settings.state_dir
        assert (state_dir / FILE_NAME).exists()
    # Read in the trunk's country (DE) although the call centre is in TR: only a call known
    # as the hamburg trunk's is; its listed DID went to its entry rule, the other to the menu.
    assert hotline.dialled_number == "+49407654321"
    assert hotline.outcome == Outcome.MESSAGE
    assert other.dialled_number == "+49407654399"
    assert other.outcome == Outcome.ENDED_IN_MENU
    # The daemon starts again with the trunk taken out of its settings: its push deletes what
    # the first one made (kept in the state directory), and nothing of pjsip.conf's.
    async with _daemon(asterisk, tmp_path, {}) as after:
        for object_type in ("endpoint", "aor", "identify"):
            assert await _gone(after, object_type, "hamburg"), object_type
        assert not await _gone(after, "endpoint", "carrier")
        assert (state_dir / FILE_NAME).read_text() == '{\n  "pushed": {}\n}'
    assert asterisk.cli("pjsip show endpoints").count("hamburg") == 0


async def test_click_to_call_goes_out_to_the_trunks_host(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    port = free_udp_port()
    async with (
        _daemon(asterisk, tmp_path, {"hamburg": _trunk(port)}) as daemon,
        carrier_answering(carrier_port=port, workdir=tmp_path / "uas") as trace,
        agent_phone(
            "8001",
            password=asterisk.phone_password.get_secret_value(),
            sip_port=asterisk.sip_port,
            workdir=tmp_path / "phone",
        ),
    ):
        assert daemon.http_url is not None
        headers = {"Authorization": f"Bearer {await _token(daemon)}"}
        body = {"number": "040555666", "agent": "PJSIP/8001", "department": "desk"}
        await _registered(daemon, "8001")
        async with httpx.AsyncClient(base_url=daemon.http_url, headers=headers, timeout=60) as api:
            placed = await api.post("/api/calls", json=body)
        assert placed.status_code == 200, placed.text
        assert placed.json()["result"] == "answered"
        for channel in await daemon.ari.channels.list():
            await daemon.ari.channels.hangup(channel.id)
        (call,) = await _ended(daemon, 1)
    (invite,) = invites(trace)
    assert invite.user == "040555666"  # national, as the trunk's settings say
    assert invite.from_user == "+49407654320"
    assert call.called_number == "+4940555666"
    assert call.outcome == Outcome.ANSWERED


_REGISTRAR = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="carrier registrar with a digest challenge">
  <recv request="REGISTER"/>
  <send>
    <![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="carrier.test", nonce="4f1c9a2e7b", algorithm=MD5
Content-Length: 0

]]>
  </send>
  <recv request="REGISTER">
    <action>
      <verifyauth assign_to="authvalid" username="{username}" password="{password}"/>
      {capture}
    </action>
  </recv>
  <nop next="good" test="authvalid"/>
  <send next="end">
    <![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]>
  </send>
  <label id="good"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Contact:];expires=600
Content-Length: 0

]]>
  </send>
{call}
  <label id="end"/>
</scenario>
"""

_LINE = (
    '<ereg regexp=";line=([A-Za-z0-9]+)" search_in="hdr" header="Contact:" assign_to="whole,line"/>'
)

# The carrier calls the registered contact (Asterisk's `line` parameter in it) from the
# registrar's address, which no identify matches: only the registration makes it the trunk's.
_CALL = """
  <Reference variables="whole"/>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[
INVITE sip:{did}@127.0.0.1:{sip_port};line=[$line] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+905551112233@[local_ip]:[local_port]>;tag=[pid]carrier[call_number]
To: <sip:{did}@127.0.0.1:{sip_port};line=[$line]>
Call-ID: [call_id]
CSeq: 10 INVITE
Contact: <sip:carrier@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=carrier 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
ACK sip:{did}@127.0.0.1:{sip_port} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+905551112233@[local_ip]:[local_port]>;tag=[pid]carrier[call_number]
To: <sip:{did}@127.0.0.1:{sip_port}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 10 ACK
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <recv request="BYE"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]>
  </send>
"""


@contextlib.asynccontextmanager
async def _registrar(
    port: int, workdir: Path, username: str, call: tuple[str, int] | None = None
) -> AsyncIterator[Path]:
    """Run SIPp as the carrier's registrar on PORT; with CALL (DID, Asterisk's SIP port) it
    then calls the contact Asterisk registered."""
    scenario = await asyncio.to_thread(_write_registrar, workdir, username, call)
    argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-nd"]
    argv += ["-mi", "127.0.0.1", "-mp", str(free_udp_port())]
    argv += ["-trace_msg", "-message_file", str(messages_of(workdir))]
    argv += ["-trace_err", "-error_file", str(workdir / "sipp-errors.log")]
    async with sipp_server(argv, workdir, port):
        yield messages_of(workdir)


def _write_registrar(workdir: Path, username: str, to: tuple[str, int] | None) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "registrar.xml"
    call = _CALL.format(did=to[0], sip_port=to[1]) if to is not None else ""
    capture = _LINE if to is not None else ""
    text = _REGISTRAR.format(username=username, password=PASSWORD, capture=capture, call=call)
    scenario.write_text(text)
    return scenario


def _read(trace: Path) -> str:
    return trace.read_text(errors="replace") if trace.exists() else ""


async def _sent(trace: Path, status: str, max_wait: float = 20) -> str:
    async with asyncio.timeout(max_wait):
        while True:
            text = await asyncio.to_thread(_read, trace)
            if f"SIP/2.0 {status}" in text:
                return text
            await asyncio.sleep(0.2)


async def test_a_trunk_that_registers_answers_the_carriers_digest_challenge(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    port = free_udp_port()
    secret = tmp_path / "carrier.secret"
    secret.write_text(PASSWORD + "\n")
    registration = {"username": "+49407654320", "password_file": str(secret), "expiration": 600}
    trunk = _trunk(port, match=[], registration=registration)
    async with (
        _registrar(port, tmp_path / "registrar", "+49407654320") as trace,
        _daemon(asterisk, tmp_path, {"hamburg": trunk}) as daemon,
    ):
        text = await _sent(trace, "200 OK")
        got = await daemon.ari.asterisk.get_object("res_pjsip", "registration", "hamburg")
    assert "SIP/2.0 403" not in text  # the digest was right: SIPp checked it with the password
    first, _, second = text.partition("SIP/2.0 401 Unauthorized")
    assert re.search(r"^REGISTER sip:127\.0\.0\.1:\d+ SIP/2\.0", first, re.MULTILINE)
    assert re.search(r"^From: <sip:\+49407654320@127\.0\.0\.1", first, re.MULTILINE)
    assert re.search(r'^Authorization: Digest username="\+49407654320"', second, re.MULTILINE)
    assert PASSWORD not in text  # only its digest goes over the wire
    assert got["expiration"] == "600"
    assert got["server_uri"] == f"sip:127.0.0.1:{port}"


async def test_calls_to_the_registered_account_are_the_trunks_calls(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    port = free_udp_port()
    secret = tmp_path / "carrier.secret"
    secret.write_text(PASSWORD)
    registration = {"username": "+49407654320", "password_file": str(secret)}
    trunk = _trunk(port, match=[], registration=registration)
    async with (
        _registrar(port, tmp_path / "reg", "+49407654320", ("0407654321", asterisk.sip_port)),
        _daemon(asterisk, tmp_path, {"hamburg": trunk}) as daemon,
    ):
        (call,) = await _ended(daemon, 1)
    # Known as the hamburg trunk's only by its registration: the national DID read in DE.
    assert call.dialled_number == "+49407654321"
    assert call.outcome == Outcome.MESSAGE  # the entry rule the trunk sends this DID to
