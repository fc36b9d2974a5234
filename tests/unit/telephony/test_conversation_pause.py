"""Pausing and resuming a conversation's recording: concurrent requests, and a part that
cannot be paused (stand-in ARI recordings and journal)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zentrale.telephony.ari import AriHttpError
from zentrale.telephony.conversation import Conversation

pytestmark = pytest.mark.asyncio


class _Recordings:
    """The live recordings' pause and unpause; BROKEN: the parts whose pause fails."""

    def __init__(self, broken: tuple[str, ...] = ()) -> None:
        self.broken = broken
        self.paused: set[str] = set()

    async def pause(self, name: str) -> None:
        await asyncio.sleep(0)
        if name in self.broken:
            raise AriHttpError(500, "POST", f"recordings/live/{name}/pause", "")
        self.paused.add(name)

    async def unpause(self, name: str) -> None:
        await asyncio.sleep(0)  # another request may run meanwhile
        self.paused.discard(name)


class _Journal:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def event(self, _call_id: str, kind: Any, _detail: Any) -> None:
        self.events.append(kind)


def _recording(recordings: _Recordings, journal: _Journal) -> Conversation:
    ari = type("Ari", (), {"recordings": recordings})()
    conversation = Conversation(ari, journal, "call-1", 1, two_party=True)  # type: ignore[arg-type]
    conversation.recording, conversation._parts = "rec", ["rec-in", "rec-out"]
    return conversation


async def test_two_resumes_at_once_resume_once() -> None:
    journal = _Journal()
    conversation = _recording(_Recordings(), journal)
    await conversation.pause()
    await asyncio.gather(conversation.resume(), conversation.resume())
    assert not conversation.paused
    assert len(conversation.markers) == 1
    assert [str(kind) for kind in journal.events] == ["recording_paused", "recording_resumed"]


async def test_a_part_that_cannot_pause_leaves_no_part_paused() -> None:
    recordings = _Recordings(broken=("rec-out",))
    conversation = _recording(recordings, _Journal())
    with pytest.raises(AriHttpError):
        await conversation.pause()
    assert recordings.paused == set()
    assert not conversation.paused
