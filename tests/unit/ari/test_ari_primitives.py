"""Awaitable primitives (play, collect digits, wait for hangup/event) against the fake ARI."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.telephony.ari import AriClient, Call, ChannelGoneError, DigitRules, Digits, primitives
from zentrale.telephony.ari.events import ChannelStateChange, StasisEnd
from zentrale.testing.fake_ari import FakeAri

from .conftest import eventually


async def run_flow(ari: AriClient, fake: FakeAri, flow: object) -> str:
    """Register ``flow`` for new channels and start one call; return its channel id."""
    assert callable(flow)
    ari.on_new_channel(flow)
    return fake.start_call()


@pytest.mark.asyncio
async def test_play_waits_for_playback_finished(fake: FakeAri, ari: AriClient) -> None:
    results: list[str] = []

    async def flow(call: Call) -> None:
        finished = await call.play("sound:hello-world", max_wait=5)
        results.append(finished.playback.state)

    await run_flow(ari, fake, flow)
    await eventually(lambda: results == ["done"])


@pytest.mark.asyncio
async def test_play_timeout_stops_the_playback(fake: FakeAri, ari: AriClient) -> None:
    fake.playback_seconds = 60
    errors: list[BaseException] = []

    async def flow(call: Call) -> None:
        try:
            await call.play("sound:long", max_wait=0.05)
        except TimeoutError as exc:
            errors.append(exc)

    await run_flow(ari, fake, flow)
    await eventually(lambda: bool(errors))
    assert any(r.method == "DELETE" and r.path.startswith("/playbacks/") for r in fake.requests)


@pytest.mark.asyncio
async def test_hangup_during_play_raises_channel_gone(fake: FakeAri, ari: AriClient) -> None:
    fake.playback_seconds = 60
    gone: list[ChannelGoneError] = []

    async def flow(call: Call) -> None:
        try:
            await call.play("sound:long")
        except ChannelGoneError as exc:
            gone.append(exc)

    channel_id = await run_flow(ari, fake, flow)
    await eventually(
        lambda: any(r.path.endswith("/play/" + r.path.rsplit("/", 1)[-1]) for r in fake.requests)
    )
    fake.hangup(channel_id)
    await eventually(lambda: bool(gone))
    assert gone[0].reason == "ChannelHangupRequest"
    assert gone[0].channel_id == channel_id


@pytest.mark.parametrize(
    ("pressed", "rules", "expected"),
    [
        ("1234", DigitRules(max_digits=3), Digits("123", "max_digits")),
        ("12#9", DigitRules(max_digits=5), Digits("12", "terminator")),
        (
            "12",
            DigitRules(max_digits=5, inter_digit_timeout=0.05),
            Digits("12", "inter_digit_timeout"),
        ),
        ("", DigitRules(max_digits=2, first_digit_timeout=0.05), Digits("", "first_digit_timeout")),
        (
            "1",
            DigitRules(max_digits=2, inter_digit_timeout=5, total_timeout=0.1),
            Digits("1", "total_timeout"),
        ),
    ],
)
@pytest.mark.asyncio
async def test_collect_digits_rules(
    fake: FakeAri, ari: AriClient, pressed: str, rules: DigitRules, expected: Digits
) -> None:
    results: list[Digits] = []

    async def flow(call: Call) -> None:
        results.append(await call.collect_digits(rules))

    channel_id = await run_flow(ari, fake, flow)
    fake.press(channel_id, pressed)  # typed ahead: buffered from StasisStart on
    await eventually(lambda: bool(results))
    assert results == [expected]


@pytest.mark.asyncio
async def test_collect_digits_ends_with_channel_gone_on_hangup(
    fake: FakeAri, ari: AriClient
) -> None:
    gone: list[str] = []

    async def flow(call: Call) -> None:
        try:
            await call.collect_digits(DigitRules(max_digits=4, inter_digit_timeout=30))
        except ChannelGoneError as exc:
            gone.append(exc.reason)

    channel_id = await run_flow(ari, fake, flow)
    fake.press(channel_id, "1")
    fake.hangup(channel_id)
    await eventually(lambda: gone == ["ChannelHangupRequest"])


@pytest.mark.asyncio
async def test_wait_for_hangup_returns_the_hangup_event(fake: FakeAri, ari: AriClient) -> None:
    events: list[str] = []

    async def flow(call: Call) -> None:
        events.append((await call.wait_for_hangup()).type)

    channel_id = await run_flow(ari, fake, flow)
    await eventually(lambda: f"channel:{channel_id}" in ari.dispatcher.watched_keys())
    fake.hangup(channel_id)
    await eventually(lambda: events == ["ChannelHangupRequest"])


@pytest.mark.asyncio
async def test_wait_for_event_inside_own_handler_does_not_deadlock(
    fake: FakeAri, ari: AriClient
) -> None:
    states: list[str] = []

    async def flow(call: Call) -> None:
        answered = asyncio.ensure_future(call.wait_for(ChannelStateChange, max_wait=5))
        await call.answer()
        states.append((await answered).channel.state)

    await run_flow(ari, fake, flow)
    await eventually(lambda: states == ["Up"])


@pytest.mark.asyncio
async def test_waiting_on_a_channel_already_gone_fails_at_once(
    fake: FakeAri, ari: AriClient
) -> None:
    channel_id = fake.start_call()
    fake.hangup(channel_id)
    await eventually(lambda: ari.dispatcher.is_gone(f"channel:{channel_id}"))
    with pytest.raises(ChannelGoneError):
        await primitives.wait_for(ari, channel_id, StasisEnd, max_wait=5)


@pytest.mark.asyncio
async def test_flow_error_hangs_the_channel_up(fake: FakeAri, ari: AriClient) -> None:
    async def flow(call: Call) -> None:
        raise RuntimeError("bug")

    channel_id = await run_flow(ari, fake, flow)
    await eventually(lambda: channel_id not in fake.channels)
    assert any(r.method == "DELETE" and r.path == f"/channels/{channel_id}" for r in fake.requests)


@pytest.mark.asyncio
async def test_wait_times_out_cleanly(fake: FakeAri, ari: AriClient) -> None:
    channel_id = fake.start_call()
    with pytest.raises(TimeoutError):
        await primitives.wait_for(ari, channel_id, StasisEnd, max_wait=0.02)
    assert f"channel:{channel_id}" not in ari.dispatcher.watched_keys()
