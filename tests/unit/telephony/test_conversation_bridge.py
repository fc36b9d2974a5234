"""Putting the parties of a conversation into its bridge (fake ARI server): one request for
both, and a party that is already gone named as gone, as when each was added alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.calls.store import CallStore
from zentrale.db.session import Database
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.telephony.ari import AriClient, AriOptions, ChannelGoneError
from zentrale.telephony.conversation import Conversation, WaitingRoom
from zentrale.telephony.journal import Journal
from zentrale.testing.fake_ari import FakeAri

pytestmark = pytest.mark.asyncio
FAST = AriOptions(retry_attempts=1, retry_backoff=0.01, backoff_initial=0.05)


def _journal(tmp_path: Path) -> Journal:
    """A journal nothing is written to here (no recording): its database is never opened."""
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    return Journal(CallStore(db), RecordingStore(db))


def _adds(fake: FakeAri) -> list[str]:
    return [str(r.params["channel"]) for r in fake.requests if r.path.endswith("/addChannel")]


async def test_both_parties_go_into_the_bridge_with_one_request(tmp_path: Path) -> None:
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.add_channel("caller")
        fake.add_channel("agent")
        conversation = Conversation(ari, _journal(tmp_path), "call-1", 1)
        await conversation.open("caller", "agent", record=False)
    assert _adds(fake) == ["caller,agent"]
    assert fake.bridges[conversation.bridge_id]["channels"] == ["caller", "agent"]


async def test_a_party_gone_before_the_bridge_is_named_and_the_other_is_added(
    tmp_path: Path,
) -> None:
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.add_channel("caller")  # the agent hung up a moment ago
        conversation = Conversation(ari, _journal(tmp_path), "call-1", 1)
        with pytest.raises(ChannelGoneError) as gone:
            await conversation.open("caller", "agent", record=False)
    assert gone.value.channel_id == "agent"
    assert _adds(fake) == ["caller,agent", "caller", "agent"]
    assert fake.bridges[conversation.bridge_id]["channels"] == ["caller"]


def _bridge_requests(fake: FakeAri) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in fake.requests
        if r.path.startswith("/bridges/")  # not the resync's list
    ]


async def test_the_waiting_room_plays_music_and_is_left_without_being_destroyed() -> None:
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.add_channel("caller")
        room = WaitingRoom(ari, "call-1")
        await room.enter("caller", "calm")
        await room.quiet()  # the caller joined a conversation: only the music stops
        await room.leave()  # nobody inside any more: nothing to take out
        await room.enter("caller", None)  # a second wait: the same room
        await room.leave()  # the flow goes on without a conversation
        await room.close()
        await room.close()
        with pytest.raises(ChannelGoneError):
            await room.enter("gone", None)
    assert _bridge_requests(fake) == [
        ("POST", "/bridges/wait-call-1"),
        ("POST", "/bridges/wait-call-1/addChannel"),
        ("POST", "/bridges/wait-call-1/moh"),
        ("DELETE", "/bridges/wait-call-1/moh"),
        ("POST", "/bridges/wait-call-1/addChannel"),
        ("POST", "/bridges/wait-call-1/moh"),
        ("POST", "/bridges/wait-call-1/removeChannel"),
        ("DELETE", "/bridges/wait-call-1/moh"),
        ("DELETE", "/bridges/wait-call-1"),
        ("POST", "/bridges/wait-call-1"),
        ("POST", "/bridges/wait-call-1/addChannel"),
    ]


class _Handed:
    """A journal stand-in keeping the recordings handed over and the events."""

    def __init__(self) -> None:
        self.recordings: list[FinishedRecording] = []
        self.events: list[str] = []

    def recording_finished(self, finished: FinishedRecording) -> None:
        self.recordings.append(finished)

    def event(self, call_id: str, kind: object, detail: object = None, **_: object) -> None:
        self.events.append(str(kind))


async def test_a_recorded_conversation_is_stopped_handed_over_then_its_bridge_destroyed() -> None:
    # The stop comes first and the hand-over waits for its RecordingFinished (the file is
    # complete), which carries the duration; only then does the bridge go. Closing twice
    # sends nothing more.
    handed = _Handed()
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.add_channel("caller")
        fake.add_channel("agent")
        conversation = Conversation(ari, handed, "call-1", 1)  # type: ignore[arg-type]
        await conversation.open("caller", "agent", record=True)
        assert list(fake.live_recordings) == ["call-1-1"]
        fake.live_recordings["call-1-1"]["started"] -= 7  # as if recorded for 7 s
        await conversation.close()
        await conversation.close()
    assert [
        (r.method, r.path) for r in fake.requests if r.path.startswith(("/bridges/", "/rec"))
    ] == [
        ("POST", "/bridges/conv-call-1-1"),
        ("POST", "/bridges/conv-call-1-1/addChannel"),
        ("POST", "/bridges/conv-call-1-1/record"),
        ("POST", "/recordings/live/call-1-1/stop"),
        ("DELETE", "/bridges/conv-call-1-1"),
    ]
    assert fake.live_recordings == {}
    assert [(r.asterisk_name, r.duration_s) for r in handed.recordings] == [("call-1-1", 7.0)]
    assert handed.events == ["recording_started"]
