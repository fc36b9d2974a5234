"""The carrier answering outbound calls (SIPp as UAS), and what it was sent.

`carrier_answering` runs SIPp on the carrier's port of the sandbox (where the trunk's contact
points): every INVITE is answered (100, 180, 200 with an SDP offer of PCMU), the call stays up
until Asterisk sends BYE. SIPp writes every SIP message it sends and receives to a trace file;
`invites` reads the calls' INVITEs from it, so a test sees the Request-URI (the dialled
number as the carrier receives it) and the From and P-Asserted-Identity headers (caller ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from zentrale.testing.sip import free_udp_port, sipp_server

_ANSWERING = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="zentrale carrier answering a call">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]>
  </send>
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:carrier@[local_ip]:[local_port]>
Content-Length: 0

]]>
  </send>
  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:carrier@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=carrier 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
]]>
  </send>
  <recv request="ACK"/>
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
</scenario>
"""


@dataclass(frozen=True)
class Invite:
    """An INVITE the carrier received: whom it was for, from whom."""

    user: str
    """The Request-URI's user part: the number as dialled to the carrier."""
    from_user: str
    asserted: str | None
    """The P-Asserted-Identity's user part, if sent."""


_REQUEST = re.compile(r"^INVITE sip:([^@;>]+)@", re.MULTILINE)
_FROM = re.compile(r"^From:[^<\n]*<sip:([^@;>]+)@", re.MULTILINE | re.IGNORECASE)
_TO_TAG = re.compile(r"^To:[^\n]*;tag=", re.MULTILINE | re.IGNORECASE)
_PAI = re.compile(r"^P-Asserted-Identity:[^<\n]*<sip:([^@;>]+)@", re.MULTILINE | re.IGNORECASE)


def invites(trace: Path) -> list[Invite]:
    """Return the INVITEs that began calls (not re-INVITEs) SIPp received, from TRACE."""
    if not trace.exists():
        return []
    found = []
    for message in trace.read_text(errors="replace").split("\n\n----------"):
        request = _REQUEST.search(message)
        sender = _FROM.search(message)
        if request is None or sender is None or "message received" not in message:
            continue
        if _TO_TAG.search(message):  # a re-INVITE inside the call (a connected-line update)
            continue
        asserted = _PAI.search(message)
        found.append(Invite(request[1], sender[1], asserted[1] if asserted else None))
    return found


@contextlib.asynccontextmanager
async def carrier_answering(*, carrier_port: int, workdir: Path) -> AsyncIterator[Path]:
    """Run SIPp as the carrier on CARRIER_PORT answering every INVITE; yield its trace file."""
    scenario = await asyncio.to_thread(_write_scenario, workdir)
    trace = workdir / "messages.log"
    argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(carrier_port)]
    argv += ["-mi", "127.0.0.1", "-mp", str(free_udp_port())]
    argv += ["-nostdin", "-nd", "-trace_msg", "-message_file", str(trace)]
    argv += ["-trace_err", "-error_file", str(workdir / "sipp-errors.log")]
    async with sipp_server(argv, workdir, carrier_port):
        yield trace


def _write_scenario(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "answering.xml"
    scenario.write_text(_ANSWERING)
    return scenario
