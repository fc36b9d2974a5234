"""Closing a recorded conversation on the sandbox Asterisk 22: the hand-over gets Asterisk's
RecordingFinished (the sign the file is complete) with its duration, well within the time it
waits for it, for a bridge recording and for a two-party (snoop) recording."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.recording.store import FinishedRecording
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, place_call
from zentrale.telephony.ari import AriClient, AriOptions, Call
from zentrale.telephony.conversation import Conversation

pytestmark = pytest.mark.asyncio
OPTIONS = AriOptions(ping_interval=2.0, ping_timeout=2.0, backoff_initial=0.2, backoff_max=2.0)
RECORDED = 3.0  # seconds the conversation is recorded


class _Handed:
    """A journal stand-in keeping what the conversation hands over."""

    def __init__(self) -> None:
        self.recordings: list[FinishedRecording] = []

    def recording_finished(self, finished: FinishedRecording) -> None:
        self.recordings.append(finished)

    def event(self, call_id: str, kind: object, detail: object = None, **_: object) -> None:
        pass


async def _recorded(asterisk: SandboxInstance, *, two_party: bool) -> tuple[_Handed, list[str]]:
    """Two simulated callers in Stasis, bridged and recorded for RECORDED s, then closed;
    returns the hand-over and the names of Asterisk's stored recordings afterwards."""
    handed, answered = _Handed(), asyncio.Queue[str]()
    async with AriClient(asterisk.ari, OPTIONS) as ari:

        async def flow(call: Call) -> None:
            await call.answer()
            await answered.put(call.id)
            await call.wait_for_hangup(max_wait=60)

        ari.on_new_channel(flow)
        await ari.wait_resynced(30)
        for _ in range(2):
            await place_call(asterisk.ari, did="100", script=CustomerScript(then="wait"))
        async with asyncio.timeout(30):
            parties = [await answered.get(), await answered.get()]
        call_id = f"close{int(two_party)}{parties[0].replace('.', '')}"
        conversation = Conversation(ari, handed, call_id, 1, two_party=two_party)  # type: ignore[arg-type]
        await conversation.open(*parties, record=True)
        await asyncio.sleep(RECORDED)
        async with asyncio.timeout(8):  # under the 10 s the hand-over waits for the event
            await conversation.close()
        stored = [r.name for r in await ari.recordings.list_stored() if r.name.startswith(call_id)]
        for party in parties:
            await ari.channels.hangup(party)
    return handed, stored


async def test_a_bridge_recording_finishes_with_its_bridge(asterisk: SandboxInstance) -> None:
    handed, stored = await _recorded(asterisk, two_party=False)
    [finished] = handed.recordings
    assert finished.duration_s is not None  # Asterisk's RecordingFinished came
    # At least what was recorded before the close (whole seconds); a loaded machine's close
    # (stop, then the event) may add a few.
    assert RECORDED - 1 <= finished.duration_s <= RECORDED + 8
    assert stored == [finished.asterisk_name]


async def test_snoop_recordings_finish_with_their_snoops(asterisk: SandboxInstance) -> None:
    handed, stored = await _recorded(asterisk, two_party=True)
    [finished] = handed.recordings
    assert finished.duration_s is not None
    assert RECORDED - 1 <= finished.duration_s <= RECORDED + 8
    assert sorted(stored) == sorted(finished.asterisk_name.split("+"))
