"""Music on hold measured on real SIP: a caller from the carrier (SIPp, 440 Hz) talks to Deniz
at the desk (baresip 8001, 1000 Hz); Deniz's phone holds (a sendonly re-INVITE) and resumes.

What reaches the held caller is what Asterisk sends on the caller's channel: a snoop spying on
that direction (`spy=out`) is recorded by Asterisk itself, and the recording is measured
before, during and after the hold (RMS, and the level of Deniz's 1 kHz). Checked by hand
once: the same snoop hears the queue's music while the caller waits (RMS 600 to 1200).

While held the caller hears music and not Deniz; before the hold and after the resume they
hear Deniz. `telephony/hold.py` plays the music on the conversation's bridge: started on the
caller's channel inside the bridge (ARI channel MOH, as it was), Asterisk 22 stops the bridge's
audio to the caller but plays no music there, and this test measured RMS 0.0 while held.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
import wave

import pytest

from zentrale.telephony.ari.events import StasisStart
from zentrale.testing.sip import CarrierScript, Key, agent_phone, have_tools

from .test_sip_calls import SipFlows, _level, _registered
from .test_sip_more import _connected
from .test_sip_transfer import sip as sip

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]
RATE = 8000
SILENCE = 100.0
"""RMS (16-bit samples) below which a stretch counts as silence; the sandbox's music is in the
hundreds to thousands, the tones near 7000."""


async def _until_kind(sip: SipFlows, call_id: str, kind: str) -> None:
    async with asyncio.timeout(15):
        while kind not in [str(e.kind) for e in await sip.events(call_id)]:
            await sip.daemon.journal.flush()
            await asyncio.sleep(0.1)


def _measure(samples: bytes, start: float, end: float) -> tuple[float, float]:
    """Return the RMS of the stretch from START to END seconds and its level of Deniz's 1 kHz."""
    values = list(memoryview(samples[int(start * RATE) * 2 : int(end * RATE) * 2]).cast("h"))
    rms = math.sqrt(sum(v * v for v in values) / max(len(values), 1))
    return rms, _level(values, 1000)


async def _heard(sip: SipFlows) -> tuple[bytes, float, float, str]:
    """Run the call with a hold; return what the caller heard, when the hold started and ended
    (seconds into it), and the call's id."""
    ari = sip.daemon.ari
    async with agent_phone(
        "8001",
        password=sip.asterisk.phone_password.get_secret_value(),
        sip_port=sip.asterisk.sip_port,
        workdir=sip.tmp / "deniz",
        freq=1000,
    ) as deniz:
        await _registered(sip, "PJSIP/8001")
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=30)))
        call_id = await _connected(sip)
        channels = await ari.channels.list()
        (carrier,) = [c for c in channels if c.name.startswith("PJSIP/carrier")]
        snoop_id, name = f"snoop-heard-{call_id}", f"heard-{call_id}"
        # The `snoop` app argument makes the call centre leave the channel alone (its own).
        with ari.subscribe(f"channel:{snoop_id}", lambda e: isinstance(e, StasisStart)) as s:
            await ari.channels.snoop(
                carrier.id, ari.app, spy="out", snoop_id=snoop_id, app_args="snoop"
            )
            await s.get(5.0)
        await ari.channels.record(snoop_id, name, fmt="wav")
        started = time.monotonic()
        await asyncio.sleep(3)  # Deniz and the caller talk
        held = time.monotonic() - started
        assert (await deniz.command("hold")).get("ok")
        await _until_kind(sip, call_id, "hold")
        await asyncio.sleep(5)
        resumed = time.monotonic() - started
        assert (await deniz.command("resume")).get("ok")
        await _until_kind(sip, call_id, "unhold")
        await asyncio.sleep(3)
        await ari.recordings.stop(name)
        await ari.channels.hangup(snoop_id)
        await deniz.hang_up()
        await caller
    sink = io.BytesIO()
    await ari.recordings.download_stored_file(name, sink)
    await ari.recordings.delete_stored(name)
    with wave.open(io.BytesIO(sink.getvalue())) as heard:
        assert (heard.getframerate(), heard.getsampwidth()) == (RATE, 2)
        return heard.readframes(heard.getnframes()), held, resumed, call_id


async def test_the_held_caller_hears_music_not_the_agent(sip: SipFlows) -> None:
    samples, held, resumed, call_id = await _heard(sip)
    # Margins around each switch: the re-INVITEs, the hold event and the music's start.
    talk = _measure(samples, 0.5, held - 0.2)
    hold = _measure(samples, held + 1.5, resumed - 0.2)
    back = _measure(samples, resumed + 1.5, resumed + 2.8)
    print("caller heard (rms, 1 kHz level) talking, held, resumed:", talk, hold, back)
    kinds = [str(e.kind) for e in await sip.events(call_id)]
    assert kinds.index("hold") < kinds.index("unhold")
    assert talk[1] > 500  # the measurement hears Deniz while they talk
    assert back[1] > 500  # and again after the resume
    assert hold[1] < talk[1] / 100  # while held, not Deniz
    assert hold[0] > SILENCE  # but music (RMS 0.0 with the music on the caller's channel)
