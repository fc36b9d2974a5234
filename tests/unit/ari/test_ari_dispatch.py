"""Per-key ordered dispatch: ordering under interleaving, slow handlers, lanes retiring,
unknown events, failing handlers."""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from typing import Any

import pytest

from zentrale.telephony.ari import AriClient
from zentrale.telephony.ari.dispatch import Dispatcher, LagSamples
from zentrale.telephony.ari.events import AriEvent, ChannelDtmfReceived, Envelope
from zentrale.testing.fake_ari import FakeAri, channel_json

from .conftest import eventually


def dtmf(channel_id: str, seq: int) -> dict[str, Any]:
    """A DTMF event whose duration carries a sequence number."""
    return {
        "type": "ChannelDtmfReceived",
        "application": "zentrale-test",
        "digit": "1",
        "duration_ms": seq,
        "channel": channel_json(channel_id),
    }


@pytest.mark.asyncio
async def test_events_of_each_channel_arrive_in_order_with_many_interleaved(
    fake: FakeAri, ari: AriClient
) -> None:
    seen: dict[str, list[int]] = {}

    async def on_dtmf(event: ChannelDtmfReceived) -> None:
        if event.duration_ms % 7 == 0:
            await asyncio.sleep(0.001)  # uneven handler time across channels
        seen.setdefault(event.channel.id, []).append(event.duration_ms)

    ari.on(ChannelDtmfReceived, on_dtmf)
    rng = random.Random(7)
    pending = {f"c{n}": 0 for n in range(50)}
    while pending:
        channel_id = rng.choice(sorted(pending))
        fake.send(dtmf(channel_id, pending[channel_id]))
        pending[channel_id] += 1
        if pending[channel_id] == 40:
            del pending[channel_id]
    await eventually(lambda: sum(map(len, seen.values())) == 50 * 40, max_wait=30)
    assert all(seq == list(range(40)) for seq in seen.values())
    assert len(seen) == 50


@pytest.mark.asyncio
async def test_slow_handler_stalls_neither_reader_nor_other_channels(
    fake: FakeAri, ari: AriClient
) -> None:
    release = asyncio.Event()
    fast: list[int] = []

    async def on_dtmf(event: ChannelDtmfReceived) -> None:
        if event.channel.id == "slow":
            await release.wait()
        else:
            fast.append(event.duration_ms)

    ari.on(ChannelDtmfReceived, on_dtmf)
    for seq in range(5):
        fake.send(dtmf("slow", seq))
    for seq in range(100):
        fake.send(dtmf("fast", seq))
    await eventually(lambda: len(fast) == 100)
    stats = ari.dispatch_stats()
    assert stats.received == 105
    assert stats.queue_depth == 5  # the slow lane's events wait; nobody else does
    release.set()
    await ari.dispatcher.drain()
    assert ari.dispatch_stats().queue_depth == 0


@pytest.mark.asyncio
async def test_unknown_events_and_fields_are_dispatched_and_counted(
    fake: FakeAri, ari: AriClient
) -> None:
    seen: list[AriEvent] = []

    async def on_any(event: AriEvent) -> None:
        seen.append(event)

    ari.on_any(on_any)
    fake.send({"type": "ChannelRocketLaunched", "channel": channel_json("c1"), "fuel": 9})
    fake.send({**dtmf("c1", 1), "pressure": "high"})
    await eventually(lambda: len(seen) == 2)
    stats = ari.dispatch_stats()
    assert stats.unknown_types == 1
    assert stats.unknown_fields >= 2
    assert isinstance(seen[1], ChannelDtmfReceived)


@pytest.mark.asyncio
async def test_bad_frames_are_counted_and_skipped(fake: FakeAri, ari: AriClient) -> None:
    for sock in fake._sockets:
        sock.send_text("not json")
        sock.send_text("[1, 2]")
    fake.send(dtmf("c1", 1))
    await eventually(lambda: ari.dispatch_stats().received == 1)
    assert ari.state.bad_frames == 2


@pytest.mark.asyncio
async def test_failing_handler_does_not_kill_the_lane(fake: FakeAri, ari: AriClient) -> None:
    handled: list[int] = []

    async def on_dtmf(event: ChannelDtmfReceived) -> None:
        handled.append(event.duration_ms)
        if event.duration_ms == 0:
            raise RuntimeError("bug in a call flow")

    ari.on(ChannelDtmfReceived, on_dtmf)
    fake.send(dtmf("c1", 0))
    fake.send(dtmf("c1", 1))
    await eventually(lambda: handled == [0, 1])
    assert ari.dispatch_stats().handler_errors == 1


@pytest.mark.asyncio
async def test_lane_retires_after_channel_destroyed_and_when_idle(
    fake: FakeAri, ari: AriClient
) -> None:
    fake.start_call("c1")
    fake.start_call("c2")
    await eventually(lambda: ari.dispatch_stats().lanes == 2)
    fake.hangup("c1")
    await eventually(lambda: ari.dispatch_stats().lanes == 1)
    await eventually(lambda: ari.dispatch_stats().lanes == 0)  # c2 idle past lane_idle_timeout


@pytest.mark.asyncio
async def test_handler_lag_is_measured_from_frame_receipt() -> None:
    dispatcher = Dispatcher(idle_timeout=10)
    gate = asyncio.Event()

    async def slow(event: AriEvent) -> None:
        await gate.wait()

    dispatcher.on_any(slow)
    dispatcher.submit(Envelope(dtmf("c1", 0)))
    dispatcher.submit(Envelope(dtmf("c1", 1)))
    await asyncio.sleep(0.05)
    gate.set()
    await dispatcher.drain()
    stats = dispatcher.stats()
    assert stats.max_queue_depth == 2
    assert stats.lag_max >= 0.05  # the second event waited behind the first
    await dispatcher.close()


@pytest.mark.asyncio
async def test_stasis_start_after_hangup_starts_no_flow_but_reentry_does(
    fake: FakeAri, ari: AriClient
) -> None:
    started: list[str] = []

    async def flow(call: Any) -> None:
        started.append(call.id)

    ari.on_new_channel(flow)
    channel = channel_json("hung")
    fake.emit("StasisStart", args=[], channel=channel)
    fake.emit("ChannelHangupRequest", cause=16, channel=channel)
    fake.emit("StasisEnd", channel=channel)
    fake.emit("StasisStart", args=[], channel=channel)  # Asterisk 22 does this after a hangup
    back = channel_json("back")
    fake.emit("StasisStart", args=[], channel=back)
    fake.emit("StasisEnd", channel=back)  # sent to the dialplan, comes back later
    fake.emit("StasisStart", args=[], channel=back)
    await eventually(lambda: ari.dispatch_stats().received == 7)
    await eventually(lambda: len(started) == 3)
    assert started == ["hung", "back", "back"]


@pytest.mark.asyncio
async def test_raw_handlers_get_unvalidated_envelopes_in_order(
    fake: FakeAri, ari: AriClient
) -> None:
    seen: list[tuple[str, str]] = []

    async def on_raw(envelope: Envelope) -> None:
        seen.append((envelope.key, envelope.type))

    ari.on_raw(on_raw)
    fake.send({"type": "ChannelDtmfReceived", "channel": {"id": "c1"}})  # invalid as a model
    fake.send(dtmf("c1", 1))
    await eventually(lambda: len(seen) == 2)
    assert seen == [("channel:c1", "ChannelDtmfReceived")] * 2
    assert ari.dispatch_stats().invalid == 0  # nobody asked for the typed model


def test_lag_samples_hold_no_more_memory_once_filled_and_keep_the_recent_ones() -> None:
    # A soak's RSS must not creep while the ring fills: the buffer is allocated whole at the
    # start, so recording a full ring of samples allocates nothing that stays.
    tracemalloc.start()
    try:
        samples = LagSamples(size=8192)
        before = tracemalloc.get_traced_memory()[0]
        for index in range(8192):
            samples.add(index / 1e6 + 0.123456789)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4096  # a list of floats held ~260 KiB here
    small = LagSamples(size=4)
    assert small.percentile(50) == 0.0
    for value in (9.0, 1.0, 2.0, 3.0, 4.0):  # 9.0 is overwritten: only the last four count
        small.add(value)
    assert (small.percentile(0), small.percentile(50), small.percentile(100)) == (1.0, 3.0, 4.0)
    assert small.max == 9.0
    small.clear()
    assert (small.percentile(50), small.max) == (0.0, 0.0)


@pytest.mark.asyncio
async def test_a_channel_is_hung_up_after_a_hangup_event_not_after_leaving_stasis_only() -> None:
    dispatcher = Dispatcher(idle_timeout=10)
    for channel_id, types in (
        ("left", ["StasisEnd"]),  # continued to the dialplan: still up
        ("hung", ["ChannelHangupRequest", "StasisEnd"]),
        ("gone", ["StasisEnd", "ChannelDestroyed"]),
    ):
        for event_type in types:
            raw = {"type": event_type, "timestamp": event_type, "channel": channel_json(channel_id)}
            dispatcher.submit(Envelope(raw))
    await dispatcher.drain()
    assert not dispatcher.hung_up("channel:left")
    assert dispatcher.is_gone("channel:left")
    assert dispatcher.hung_up("channel:hung")
    assert dispatcher.hung_up("channel:gone")
    assert not dispatcher.hung_up("channel:unknown")
    await dispatcher.close()
