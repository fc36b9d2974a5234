"""Holds: which call and party a held channel belongs to (pure), and what the daemon does on
ARI ChannelHold / ChannelUnhold (fake ARI server): the timeline event and the other party's
music on hold."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zentrale.calls.models import EventKind
from zentrale.telephony.ari import AriClient, AriOptions
from zentrale.telephony.hold import CallLegs, Held, Holds, held_by
from zentrale.testing.fake_ari import FakeAri

FAST = AriOptions(retry_attempts=1, retry_backoff=0.01, backoff_initial=0.05)
CALLS = [CallLegs("c1", "cust-1", "agent-1"), CallLegs("c2", "cust-2", None)]


def test_a_held_channel_is_the_agent_or_the_customer_of_its_call() -> None:
    assert held_by("agent-1", CALLS) == Held("c1", "agent", "cust-1")
    assert held_by("cust-1", CALLS) == Held("c1", "customer", "agent-1")
    assert held_by("cust-2", CALLS) == Held("c2", "customer", None)
    assert held_by("snoop-x", CALLS) is None  # not a party of a call here


class Timeline:
    """Collects what Holds writes on the calls' timelines."""

    def __init__(self) -> None:
        self.events: list[tuple[str, EventKind, Any]] = []

    def event(self, call_id: str, kind: EventKind, detail: Any = None) -> None:
        self.events.append((call_id, kind, detail))


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - filled by the ARI handlers
            await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_hold_and_unhold_go_on_the_timeline_and_the_other_party_hears_music() -> None:
    timeline = Timeline()
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        Holds(ari, timeline, lambda: CALLS)  # type: ignore[arg-type]
        fake.emit("ChannelHold", channel=fake.add_channel("agent-1"), musicclass="default")
        fake.emit("ChannelHold", channel=fake.add_channel("stranger"))
        await _until(lambda: len(timeline.events) == 1)
        fake.emit("ChannelUnhold", channel=fake.channels["agent-1"])
        await _until(lambda: len(timeline.events) == 2)
        await _until(lambda: any(r.method == "DELETE" for r in fake.requests))
    assert timeline.events == [
        ("c1", EventKind.HOLD, {"party": "agent"}),
        ("c1", EventKind.UNHOLD, {"party": "agent"}),
    ]
    moh = [(r.method, r.path) for r in fake.requests if r.path.endswith("/moh")]
    assert [method for method, _ in moh] == ["POST", "DELETE"]
    assert all("cust-1" in path for _, path in moh)  # the customer hears the music


@pytest.mark.asyncio
async def test_in_a_conversation_the_music_plays_on_its_bridge() -> None:
    # Music started on a channel inside a bridge is silent (measured on Asterisk 22, see
    # tests/integration/flows/test_sip_hold.py): with the conversation's bridge known, there.
    calls = [CallLegs("c1", "cust-1", "agent-1", "conv-c1-1")]
    assert held_by("agent-1", calls) == Held("c1", "agent", "cust-1", "conv-c1-1")
    timeline = Timeline()
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        Holds(ari, timeline, lambda: calls)  # type: ignore[arg-type]
        fake.emit("ChannelHold", channel=fake.add_channel("agent-1"), musicclass="calm")
        await _until(lambda: any(r.path.endswith("/moh") for r in fake.requests))
        fake.emit("ChannelUnhold", channel=fake.channels["agent-1"])
        await _until(lambda: any(r.method == "DELETE" for r in fake.requests))
    moh = [(r.method, r.path) for r in fake.requests if r.path.endswith("/moh")]
    assert moh == [("POST", "/bridges/conv-c1-1/moh"), ("DELETE", "/bridges/conv-c1-1/moh")]


@pytest.mark.asyncio
async def test_when_both_hold_the_music_plays_until_the_last_takes_the_call_back() -> None:
    calls = [CallLegs("c1", "cust-1", "agent-1", "conv-c1-1")]
    timeline = Timeline()
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        holds = Holds(ari, timeline, lambda: calls)  # type: ignore[arg-type]
        fake.emit("ChannelHold", channel=fake.add_channel("agent-1"))
        fake.emit("ChannelHold", channel=fake.add_channel("cust-1"))
        fake.emit("ChannelHold", channel=fake.channels["agent-1"])  # re-sent: no second hold
        fake.emit("ChannelUnhold", channel=fake.channels["agent-1"])
        await _until(lambda: len(timeline.events) == 3)
        assert holds.holding == {"bridge:conv-c1-1": {"cust-1"}}
        fake.emit("ChannelUnhold", channel=fake.channels["cust-1"])
        await _until(lambda: any(r.method == "DELETE" for r in fake.requests))
    assert [kind for _, kind, _ in timeline.events] == [
        EventKind.HOLD,
        EventKind.HOLD,
        EventKind.UNHOLD,
        EventKind.UNHOLD,
    ]
    moh = [(r.method, r.path) for r in fake.requests if r.path.endswith("/moh")]
    # one start for the first hold, one stop when nobody holds any more
    assert moh == [("POST", "/bridges/conv-c1-1/moh"), ("DELETE", "/bridges/conv-c1-1/moh")]
    assert holds.holding == {}


@pytest.mark.asyncio
async def test_a_holder_that_hung_up_is_forgotten_at_the_next_hold() -> None:
    calls = [CallLegs("c1", "cust-1", "agent-1", "conv-c1-1")]
    timeline = Timeline()
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        holds = Holds(ari, timeline, lambda: calls)  # type: ignore[arg-type]
        fake.emit("ChannelHold", channel=fake.add_channel("agent-1"))
        await _until(lambda: len(timeline.events) == 1)
        calls = [CallLegs("c2", "cust-2", "agent-2", "conv-c2-1")]  # c1 ended while held
        fake.emit("ChannelHold", channel=fake.add_channel("agent-2"))
        await _until(lambda: len(timeline.events) == 2)
        assert holds.holding == {"bridge:conv-c2-1": {"agent-2"}}
