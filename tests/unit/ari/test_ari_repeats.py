"""An event Asterisk delivers twice (two subscriptions of the app) reaches handlers once."""

from __future__ import annotations

from typing import Any

import pytest

from zentrale.telephony.ari.dispatch import Dispatcher
from zentrale.telephony.ari.events import ChannelDtmfReceived, Envelope
from zentrale.telephony.ari.repeats import RepeatFilter
from zentrale.testing.fake_ari import channel_json


def key_press(digit: str, stamp: str, channel_id: str = "c1") -> dict[str, Any]:
    """A ChannelDtmfReceived as Asterisk sends it, with its timestamp. The channel's creation
    time is fixed: Asterisk's two copies are byte for byte the same (`channel_json` stamps the
    clock's time, which moved between two copies on a loaded machine)."""
    channel = {**channel_json(channel_id), "creationtime": "2026-12-06T03:13:50.000+0000"}
    return {
        "type": "ChannelDtmfReceived",
        "application": "zentrale",
        "timestamp": stamp,
        "digit": digit,
        "duration_ms": 200,
        "channel": channel,
    }


def test_same_event_twice_is_a_repeat() -> None:
    repeats = RepeatFilter()
    first = key_press("1", "2026-12-06T03:13:53.981+0000")
    assert not repeats.repeated(Envelope(first))
    assert repeats.repeated(Envelope(dict(first)))


def test_same_key_pressed_again_is_not_a_repeat() -> None:
    repeats = RepeatFilter()
    assert not repeats.repeated(Envelope(key_press("1", "2026-12-06T03:13:53.981+0000")))
    assert not repeats.repeated(Envelope(key_press("1", "2026-12-06T03:13:54.581+0000")))
    # Same moment, other channel or other body: different events.
    assert not repeats.repeated(Envelope(key_press("1", "2026-12-06T03:13:54.581+0000", "c2")))
    assert not repeats.repeated(Envelope(key_press("2", "2026-12-06T03:13:54.581+0000")))


def test_events_without_timestamp_are_never_dropped() -> None:
    repeats = RepeatFilter()
    event = {"type": "ChannelDtmfReceived", "digit": "1", "channel": channel_json("c1")}
    assert not repeats.repeated(Envelope(event))
    assert not repeats.repeated(Envelope(dict(event)))


def test_an_equal_event_after_another_one_is_new() -> None:
    # A channel that leaves the app and comes back in the same millisecond: StasisEnd between.
    repeats = RepeatFilter()
    stamp = "2026-12-06T03:13:53.981+0000"
    start = {"type": "StasisStart", "timestamp": stamp, "args": [], "channel": channel_json("c1")}
    end = {"type": "StasisEnd", "timestamp": stamp, "channel": channel_json("c1")}
    assert [repeats.repeated(Envelope(dict(raw))) for raw in (start, end, start)] == [False] * 3


def test_memory_is_bounded() -> None:
    repeats = RepeatFilter(memory=4)
    stamp = "2026-12-06T03:13:53.981+0000"
    # Each event built once and sent again as a copy: channel_json stamps the creation time,
    # which a loaded machine moved on between two builds (the test failed once that way).
    presses = [key_press("1", stamp, f"c{n}") for n in range(10)]
    for raw in presses:
        repeats.repeated(Envelope(raw))
    assert not repeats.repeated(Envelope(dict(presses[0])))
    assert repeats.repeated(Envelope(dict(presses[9])))


@pytest.mark.asyncio
async def test_dispatcher_hands_a_doubled_key_press_to_handlers_and_waiters_once() -> None:
    dispatcher = Dispatcher()
    seen: list[str] = []

    async def on_dtmf(event: ChannelDtmfReceived) -> None:
        seen.append(event.digit)

    dispatcher.on(ChannelDtmfReceived, on_dtmf)
    waiter = dispatcher.subscribe("channel:c1", lambda e: isinstance(e, ChannelDtmfReceived))
    for raw in (
        key_press("1", "2026-12-06T03:13:53.981+0000"),
        key_press("1", "2026-12-06T03:13:53.981+0000"),
        key_press("1", "2026-12-06T03:13:54.581+0000"),
        key_press("1", "2026-12-06T03:13:54.581+0000"),
    ):
        dispatcher.submit(Envelope(raw))
    await dispatcher.drain()
    assert seen == ["1", "1"]
    assert waiter.pending() == 2
    assert dispatcher.stats().repeated == 2
    await dispatcher.close()
