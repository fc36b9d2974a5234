"""Real SIP user agents for tests: a carrier calling in (SIPp) and agents' phones (baresip).

The sandbox Asterisk has a UDP transport on 127.0.0.1, a carrier trunk identified by the
source port it sends from, and agent phones PJSIP/8001... that register
(src/zentrale/sandbox/asterisk/pjsip.conf). `carrier_call` runs SIPp from that port: an INVITE
to the DID, then RTP from a pcap this module writes (a PCMU tone with RFC 4733 key presses at
given moments), then it hangs up or waits for the far end's BYE. `AgentPhone` runs baresip
registered as an agent phone that answers by itself and speaks a WAV file (its own tone).

Needs Debian's `sip-tester` (sipp) and `baresip` packages (scripts/setup.sh installs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import socket
import struct
import wave
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RATE = 8000
PACKET = 160  # samples in 20 ms
DTMF_PAYLOAD = 101
EVENTS = {**{str(n): n for n in range(10)}, "*": 10, "#": 11}


def have_tools() -> list[str]:
    """Return the SIP tools missing on this machine (empty when both are there)."""
    return [tool for tool in ("sipp", "baresip") if shutil.which(tool) is None]


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _free_udp_and_tcp_port() -> int:
    """A port for baresip's sip_listen, which binds UDP and TCP on it and TLS on the next one:
    a port taken for any of them (e.g. by a TCP client's ephemeral port) fails it with "Address
    already in use", and the phone never registers."""
    for _ in range(50):
        port = _free_tcp_port()
        if not _udp_port_taken(port) and not _tcp_port_taken(port + 1):
            return port
    raise RuntimeError("no port free for baresip's SIP transports on 127.0.0.1")


def _tcp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_udp_port() -> int:
    """Return a UDP port on loopback that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- audio ---------------------------------------------------------------------------------


def tone(freq: float, seconds: float, level: float = 0.3) -> list[int]:
    """Return 16-bit samples of a sine tone at 8 kHz."""
    count = int(seconds * RATE)
    return [int(level * 32767 * math.sin(2 * math.pi * freq * n / RATE)) for n in range(count)]


def write_wav(path: Path, samples: Sequence[int], rate: int = RATE) -> Path:
    """Write mono 16-bit SAMPLES as a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def ulaw(sample: int) -> int:
    """Encode one 16-bit linear sample as G.711 mu-law (the classic bias-and-segment way)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = 7
    for bit in range(7, -1, -1):
        if magnitude & (1 << (bit + 7)):
            exponent = bit
            break
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


# -- RTP in a pcap ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key pressed AT seconds after the audio starts, held for DURATION seconds."""

    digit: str
    at: float
    duration: float = 0.2


@dataclass
class _Rtp:
    packets: list[tuple[float, bytes]] = field(default_factory=list)
    seq: int = 1000
    ssrc: int = 0x5A17E001

    def add(self, when: float, payload_type: int, stamp: int, body: bytes, mark: bool) -> None:
        first = (0x80 | payload_type) if mark else payload_type
        header = struct.pack("!BBHII", 0x80, first, self.seq & 0xFFFF, stamp, self.ssrc)
        self.packets.append((when, header + body))
        self.seq += 1


# The two tones of each key (row, column) for inband DTMF.
_DTMF_TONES = {
    key: (row, col)
    for row, keys in zip((697, 770, 852, 941), ("123", "456", "789", "*0#"), strict=True)
    for col, key in zip((1209, 1336, 1477), keys, strict=True)
}


def with_inband_keys(samples: list[int], keys: Sequence[Key]) -> list[int]:
    """Return SAMPLES with each key's two DTMF tones in place of the speech while it is held."""
    out = list(samples)
    for key in keys:
        low, high = _DTMF_TONES[key.digit]
        start = int(key.at * RATE)
        lows, highs = tone(low, key.duration, 0.2), tone(high, key.duration, 0.25)
        pair = [a + b for a, b in zip(lows, highs, strict=True)]
        out[start : start + len(pair)] = pair[: max(0, len(out) - start)]
    return out


def rtp_stream(
    freq: float, seconds: float, keys: Sequence[Key] = (), inband: Sequence[Key] = ()
) -> list[tuple[float, bytes]]:
    """Return RTP packets (send time, bytes): PCMU tone, RFC 4733 events where KEYS say, and
    the DTMF tones of INBAND keys in the audio itself."""
    samples = with_inband_keys(tone(freq, seconds), inband)
    encoded = bytes(ulaw(s) for s in samples)
    rtp = _Rtp()
    ordered = sorted(keys, key=lambda k: k.at)
    frame = 0
    while frame * PACKET < len(encoded):
        now = frame * PACKET / RATE
        key = next((k for k in ordered if k.at <= now < k.at + k.duration), None)
        if key is None:
            chunk = encoded[frame * PACKET : (frame + 1) * PACKET]
            rtp.add(now, 0, frame * PACKET, chunk, mark=False)
            frame += 1
            continue
        frame = _event(rtp, key, frame)
    return rtp.packets


def _event(rtp: _Rtp, key: Key, frame: int) -> int:
    """Add one key press (a start, updates, three end packets) from FRAME; return the next."""
    start = frame * PACKET
    steps = max(1, round(key.duration * RATE / PACKET))
    code = EVENTS[key.digit]
    for step in range(1, steps + 1):
        end = step == steps
        body = struct.pack("!BBH", code, (0x80 if end else 0) | 10, step * PACKET)
        when = (frame + step - 1) * PACKET / RATE
        for _ in range(3 if end else 1):
            rtp.add(when, DTMF_PAYLOAD, start, body, mark=step == 1)
    return frame + steps


def write_pcap(path: Path, packets: Sequence[tuple[float, bytes]]) -> Path:
    """Write UDP packets (time, payload) as an Ethernet pcap SIPp's play_pcap_audio replays."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for when, payload in packets:
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(payload), 0) + payload
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            0,
            0,
            64,
            17,
            0,
            socket.inet_aton("127.0.0.1"),
            socket.inet_aton("127.0.0.1"),
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        seconds = int(when)
        out.append(
            struct.pack("<IIII", seconds, int((when - seconds) * 1e6), len(frame), len(frame))
        )
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


# -- SIPp: the carrier calling in ------------------------------------------------------------

_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="zentrale carrier call">
  <send retrans="500">
    <![CDATA[
INVITE sip:{did}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{caller}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{did}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
{headers}Content-Type: application/sdp
Content-Length: [len]

{sdp}]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{caller}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
{info}  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup"/>
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
  <nop next="done"/>
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{caller}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {bye_cseq} BYE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <recv response="200" crlf="true"/>
  <label id="done"/>
</scenario>
"""


_SDP = """v=0
o=carrier 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0{events_format}
a=rtpmap:0 PCMU/8000
{events}a=ptime:20
a=sendrecv
"""

_EVENTS = "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\n"

# One key as SIP INFO (application/dtmf-relay, the body most phones and carriers send).
_INFO = """  <pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[
INFO [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{caller}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {cseq} INFO
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/dtmf-relay
Content-Length: [len]

Signal={digit}
Duration={duration_ms}
]]>
  </send>
  <recv response="200"/>
"""


def _info_keys(caller: str, keys: Sequence[Key]) -> tuple[str, int]:
    """SIPp steps sending KEYS as SIP INFO at their moments; return them and the next CSeq."""
    steps, cseq, now = [], 2, 0.0
    for key in sorted(keys, key=lambda k: k.at):
        pause_ms = max(0, int((key.at - now) * 1000))
        duration_ms = int(key.duration * 1000)
        steps.append(
            _INFO.format(
                pause_ms=pause_ms,
                caller=caller,
                cseq=cseq,
                digit=key.digit,
                duration_ms=duration_ms,
            )
        )
        cseq, now = cseq + 1, key.at
    return "".join(steps), cseq


@dataclass(frozen=True)
class CarrierCall:
    """What a finished SIPp call reported."""

    returncode: int
    output: str


@dataclass(frozen=True)
class CarrierScript:
    """The caller's side: who calls which DID, their tone, their keys, how long they stay.

    The caller hangs up HOLD seconds after the answer unless the far end hangs up first.
    """

    did: str = "100"
    caller: str = "+905551112233"
    freq: float = 440.0
    keys: Sequence[Key] = ()
    hold: float = 20.0
    audio: float | None = None  # seconds of RTP (default: HOLD)
    dtmf: str = "rfc4733"
    """How keys are sent: `rfc4733` (events in the RTP), `info` (SIP INFO requests) or `inband`
    (the keys' tones in the audio)."""
    offer_events: bool = True
    """Whether the SDP offers telephone-event (RFC 4733); without it `auto_info` means INFO."""
    headers: Sequence[str] = ()
    """Extra INVITE headers, e.g. the one the sandbox tells its INFO trunks apart by."""
    injected: bool = False
    """Each call's DID and caller come from SIPp's injection file (`-inf`, one `DID;caller`
    line per call: `[field0]`, `[field1]`) instead of DID and CALLER, for many calls at once."""


def prepare_carrier_call(script: CarrierScript, workdir: Path) -> Path:
    """Write the caller's RTP (`caller.pcap`) and the SIPp scenario (`carrier.xml`) into
    WORKDIR; return the scenario. `carrier_call` runs one such call; a benchmark runs many."""
    workdir.mkdir(parents=True, exist_ok=True)
    audio = script.audio if script.audio is not None else script.hold
    rtp_keys = script.keys if script.dtmf == "rfc4733" else ()
    tones = script.keys if script.dtmf == "inband" else ()
    pcap = write_pcap(workdir / "caller.pcap", rtp_stream(script.freq, audio, rtp_keys, tones))
    caller, did = ("[field1]", "[field0]") if script.injected else (script.caller, "[service]")
    info, bye_cseq = _info_keys(caller, script.keys) if script.dtmf == "info" else ("", 2)
    sdp = _SDP.format(
        events_format=" 101" if script.offer_events else "",
        events=_EVENTS if script.offer_events else "",
    )
    scenario = workdir / "carrier.xml"
    scenario.write_text(
        _SCENARIO.format(
            caller=caller,
            did=did,
            pcap=pcap,
            hold_ms=int(script.hold * 1000),
            headers="".join(f"{header}\n" for header in script.headers),
            sdp=sdp,
            info=info,
            bye_cseq=bye_cseq,
        )
    )
    return scenario


async def carrier_call(
    *,
    sip_port: int,
    carrier_port: int,
    script: CarrierScript,
    workdir: Path,
    calls: Sequence[tuple[str, str]] = (),
) -> CarrierCall:
    """Call the sandbox from the carrier's address with SIPp; return when the call is over.

    An `injected` SCRIPT places CALLS (DID, caller) one after the other instead of one call.
    """
    scenario = await asyncio.to_thread(prepare_carrier_call, script, workdir)
    count = 1
    if script.injected:
        inject = workdir / "calls.csv"
        inject.write_text("SEQUENTIAL\n" + "".join(f"{did};{who}\n" for did, who in calls))
        count = len(calls)
    argv = [
        "sipp",
        f"127.0.0.1:{sip_port}",
        "-sf",
        str(scenario),
        "-s",
        script.did,
        "-i",
        "127.0.0.1",
        "-p",
        str(carrier_port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(free_udp_port()),
        "-m",
        str(count),
        *(("-inf", str(workdir / "calls.csv")) if script.injected else ()),
        "-nostdin",
        "-nd",
        "-trace_err",
        "-error_file",
        str(workdir / "sipp-errors.log"),
        "-timeout",
        f"{int(script.hold * count + 60)}s",
        "-timeout_error",
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    errors = workdir / "sipp-errors.log"
    text = out.decode(errors="replace")[-2000:]
    if errors.exists():
        text += errors.read_text(errors="replace")[-3000:]
    return CarrierCall(proc.returncode or 0, text)


_REFUSING = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="zentrale carrier refusing a call">
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
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


def _write_scenario(workdir: Path, text: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "refusing.xml"
    scenario.write_text(text)
    return scenario


@contextlib.asynccontextmanager
async def carrier_refusing(*, carrier_port: int, status: str, workdir: Path) -> AsyncIterator[Path]:
    """Run SIPp as the carrier on its port, refusing every INVITE with STATUS (486 Busy Here).

    Every INVITE is refused, not just the first: a stray retransmission of an earlier test's
    INVITE (Asterisk retransmits an unanswered INVITE for 32 s) must not use up the one call
    SIPp would take. Yields the file where SIPp logs unexpected messages; stops SIPp on exit.
    """
    scenario = await asyncio.to_thread(_write_scenario, workdir, _REFUSING.format(status=status))
    errors = workdir / "sipp-errors.log"
    argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(carrier_port)]
    argv += ["-nostdin", "-nd", "-trace_err", "-error_file", str(errors)]
    argv += ["-trace_msg", "-message_file", str(messages_of(workdir))]
    async with sipp_server(argv, workdir, carrier_port):
        yield errors


def _udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# -- baresip: an agent's phone ---------------------------------------------------------------


@dataclass
class AgentPhone:
    """baresip registered as sandbox agent phone NUMBER, answering by itself, speaking a tone."""

    number: str
    password: str
    sip_port: int
    workdir: Path
    freq: float = 1000.0
    answer: bool = True
    hear: bool = False
    """Write what the phone hears (and says) to WAV files in WORKDIR (baresip's sndfile
    module: `dump-...-dec.wav` is what it received); see `heard()`."""
    process: asyncio.subprocess.Process | None = None
    control_port: int = field(default_factory=lambda: _free_tcp_port())

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        speech = write_wav(self.workdir / "speech.wav", tone(self.freq, 120))
        mode = "auto" if self.answer else "manual"
        (self.workdir / "accounts").write_text(
            f"<sip:{self.number}@127.0.0.1:{self.sip_port};transport=udp>"
            f";auth_pass={self.password};answermode={mode};regint=60"
            ";audio_codecs=PCMU\n"
        )
        modules = ("g711", "aufile", "account", "menu", "ctrl_tcp", *(("sndfile",) * self.hear))
        lines = [
            "module_path /usr/lib/baresip/modules",
            f"sip_listen 127.0.0.1:{_free_udp_and_tcp_port()}",
            f"audio_source aufile,{speech}",
            f"audio_player aufile,{self.workdir / 'heard.wav'}",
            "audio_alert aufile,/dev/null",
            "rtp_ports 20000-40000",
            "sip_trans_def udp",
            "dns_server 127.0.0.1:53",
            "call_max_calls 4",
            f"ctrl_tcp_listen 127.0.0.1:{self.control_port}",
            *([f"snd_path {self.workdir}"] if self.hear else []),
            *(f"module {name}.so" for name in modules),
        ]
        (self.workdir / "config").write_text("\n".join(dict.fromkeys(lines)) + "\n")
        (self.workdir / "contacts").write_text("")

    async def start(self) -> None:
        """Start baresip; registration follows within a second or two."""
        for _ in range(3):
            await self._start_once()
            # Another process can take the chosen port before baresip binds it: then baresip
            # stops at once ("init failed"), and a fresh port is tried.
            with contextlib.suppress(TimeoutError):
                assert self.process is not None
                await asyncio.wait_for(self.process.wait(), 1.0)
                continue
            return

    async def _start_once(self) -> None:
        self._write_config()
        log = (self.workdir / "baresip.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()

    async def stop(self) -> None:
        """Stop baresip (it unregisters on a clean exit)."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def command(self, command: str, params: str = "") -> dict[str, object]:
        """Send one command to baresip (its ctrl_tcp module: JSON in netstrings); return the
        response (`ok`, `data`). Events baresip sends on the same connection are skipped."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        try:
            body = json.dumps({"command": command, "params": params, "token": command}).encode()
            writer.write(str(len(body)).encode() + b":" + body + b",")
            await writer.drain()
            async with asyncio.timeout(10):
                while True:
                    size = int((await reader.readuntil(b":"))[:-1])
                    message = json.loads((await reader.readexactly(size + 1))[:-1])
                    if message.get("response"):
                        return dict(message)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def hang_up(self) -> None:
        """Hang up the phone's current call, as the agent would with the red key."""
        response = await self.command("hangup")
        assert response.get("ok"), response

    async def transfer(self, number: str) -> None:
        """Blind-transfer the current call to NUMBER (baresip sends a SIP REFER)."""
        uri = f"sip:{number}@127.0.0.1:{self.sip_port}"
        response = await self.command("transfer", uri)
        assert response.get("ok"), response

    def heard(self) -> list[Path]:
        """Return the files of what the phone received, oldest first (with `hear`)."""
        return sorted(self.workdir.glob("dump-*-dec.wav"), key=lambda path: path.stat().st_mtime)

    def log(self) -> str:
        """Return what baresip printed."""
        with contextlib.suppress(OSError):
            return (self.workdir / "baresip.log").read_text(errors="replace")
        return ""


@contextlib.asynccontextmanager
async def agent_phone(
    number: str,
    *,
    password: str,
    sip_port: int,
    workdir: Path,
    freq: float = 1000.0,
    answer: bool = True,
    hear: bool = False,
) -> AsyncIterator[AgentPhone]:
    """Run an agent phone for the duration of the block; it answers by itself when ANSWER and
    keeps what it hears when HEAR."""
    phone = AgentPhone(number, password, sip_port, workdir, freq, answer, hear)
    await phone.start()
    try:
        yield phone
    finally:
        await phone.stop()


# -- SIPp: the carrier answering (or only ringing) for a call placed through the trunk -------

_ANSWERING = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="zentrale carrier's customer answering">
  <recv request="INVITE" rrs="true">{capture}</recv>
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
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]>
  </send>
{body}
</scenario>
"""

_ANSWER = """  <pause milliseconds="{ring_ms}"/>
  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=customer 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup"/>
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
  <nop next="done"/>
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$callee];tag=[pid]SIPpTag01[call_number]
To: [$caller]
[routes]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <recv response="200" crlf="true"/>
  <label id="done"/>"""

_CAPTURE = """
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="callee"/>
    </action>
  """

# Ringing until Asterisk gives up: its CANCEL is answered (200), then the INVITE (487).
_NO_ANSWER = """  <recv request="CANCEL"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
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
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [cseq] INVITE
Content-Length: 0

]]>
  </send>
  <recv request="ACK"/>"""


def _answering_scenario(
    workdir: Path, *, answer: bool, ring: float, hold: float, freq: float, keys: Sequence[Key]
) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    if answer:
        pcap = write_pcap(workdir / "customer.pcap", rtp_stream(freq, hold, keys))
        body = _ANSWER.format(ring_ms=int(ring * 1000), pcap=pcap, hold_ms=int(hold * 1000))
    else:
        body = _NO_ANSWER
    scenario = workdir / "answering.xml"
    # SIPp refuses a variable that is captured but never used: only the answer's BYE uses them.
    capture = _CAPTURE if answer else ""
    scenario.write_text(_ANSWERING.format(capture=capture, body=body))
    return scenario


@contextlib.asynccontextmanager
async def carrier_answering(
    *,
    carrier_port: int,
    workdir: Path,
    answer: bool = True,
    ring: float = 1.0,
    hold: float = 6.0,
    freq: float = 440.0,
    keys: Sequence[Key] = (),
) -> AsyncIterator[Path]:
    """Run SIPp as the carrier for outbound calls: the customer's phone rings RING seconds,
    answers, speaks a tone (with KEYS as RFC 4733 events, seconds after the answer) for HOLD
    seconds and hangs up (BYE) unless Asterisk hung up first; or, without ANSWER, rings until
    Asterisk cancels. Yields the file where SIPp logs unexpected messages; stops SIPp on exit.
    Every message is traced to `messages_of(workdir)` (read it with `testing.trunk.invites`).
    """
    scenario = await asyncio.to_thread(
        _answering_scenario, workdir, answer=answer, ring=ring, hold=hold, freq=freq, keys=keys
    )
    errors = workdir / "sipp-errors.log"
    argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(carrier_port)]
    argv += ["-mi", "127.0.0.1", "-mp", str(free_udp_port())]
    argv += ["-nostdin", "-nd", "-trace_err", "-error_file", str(errors)]
    argv += ["-trace_msg", "-message_file", str(messages_of(workdir))]
    async with sipp_server(argv, workdir, carrier_port):
        yield errors


def messages_of(workdir: Path) -> Path:
    """Return where a carrier SIPp run in WORKDIR traces the SIP messages it sent and received."""
    return workdir / "messages.log"


@contextlib.asynccontextmanager
async def sipp_server(argv: list[str], workdir: Path, port: int) -> AsyncIterator[None]:
    """Run SIPp waiting for calls on PORT (ready once it listens); stop it on exit.

    An INVITE sent before SIPp listens is lost (the call would time out as "no answer"), so
    this yields only once SIPp has bound PORT.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(10):
            while not _udp_port_taken(port):  # waits on another process's socket
                if process.returncode is not None:
                    raise RuntimeError(f"SIPp as carrier exited with {process.returncode}")
                await asyncio.sleep(0.05)
        yield
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
