"""The ARI client against the real sandbox Asterisk 22: restarts, resync, a daemon restart while a
call sits in Stasis, and new calls afterwards, with no leaked tasks."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, place_call
from zentrale.telephony.ari import AriClient, AriOptions, Call, DigitRules, Digits
from zentrale.telephony.ari.config import IGNORED_EVENTS, RestTransport
from zentrale.telephony.ari.events import AriEvent
from zentrale.telephony.ari.models import Bridge, Channel

OPTIONS = AriOptions(ping_interval=2.0, ping_timeout=2.0, backoff_initial=0.2, backoff_max=2.0)
SCRIPT = CustomerScript(digits="12", digit_delay=0.5, then="hangup")


async def until(condition: object, max_wait: float = 30.0) -> None:
    """Poll until ``condition()`` is true (a bound, not a timing assertion)."""
    assert callable(condition)
    async with asyncio.timeout(max_wait):
        while not condition():  # noqa: ASYNC110 - polls the client's observable state
            await asyncio.sleep(0.05)


def answer_and_collect(results: list[Digits]) -> object:
    """A call flow: answer, collect two digits, wait for the customer to hang up."""

    async def flow(call: Call) -> None:
        await call.answer()
        results.append(await call.collect_digits(DigitRules(max_digits=2, first_digit_timeout=10)))
        await call.wait_for_hangup(max_wait=30)

    return flow


@pytest.mark.asyncio
async def test_asterisk_restart_reconnects_resyncs_and_takes_new_calls(
    asterisk: SandboxInstance,
) -> None:
    before = asyncio.all_tasks()
    resyncs: list[list[str]] = []
    results: list[Digits] = []

    async def on_resync(channels: list[Channel], bridges: list[Bridge]) -> None:
        resyncs.append([c.id for c in channels])

    async with AriClient(asterisk.ari, OPTIONS) as ari:
        ari.on_resync(on_resync)
        ari.on_new_channel(answer_and_collect(results))  # type: ignore[arg-type]
        await ari.wait_resynced(30)
        await place_call(asterisk.ari, did="100", script=CustomerScript(then="wait"))
        await until(lambda: ari.dispatch_stats().received > 0)
        # A restart hangs up the call in Stasis (ChannelHangupRequest), then drops our socket.
        await asyncio.to_thread(asterisk.restart)
        await until(lambda: ari.state.reconnects >= 1 and len(resyncs) >= 2, 60)
        assert resyncs[-1] == []  # nothing survived the restart, and nothing is left dangling
        await place_call(asterisk.ari, did="100", script=SCRIPT)
        await until(lambda: len(results) == 1)
    assert results == [Digits("12", "max_digits")]  # the first call ended with ChannelGone
    assert asyncio.all_tasks() - before == set()


@pytest.mark.asyncio
async def test_daemon_restart_adopts_the_call_left_in_stasis(asterisk: SandboxInstance) -> None:
    before = asyncio.all_tasks()
    first = AriClient(asterisk.ari, OPTIONS)
    first.start()
    await first.wait_resynced(30)
    placed = await place_call(asterisk.ari, did="100", script=SCRIPT)
    await until(lambda: first.dispatch_stats().received > 0)
    await first.close()  # the daemon goes away; Asterisk keeps the channel in Stasis

    results: list[Digits] = []
    adopted: list[Channel] = []
    async with AriClient(asterisk.ari, OPTIONS) as ari:
        flow = answer_and_collect(results)

        async def on_resync(channels: list[Channel], bridges: list[Bridge]) -> None:
            for channel in channels:
                adopted.append(channel)
                ari.adopt(channel, flow)  # type: ignore[arg-type]

        ari.on_resync(on_resync)
        await until(lambda: len(results) == 1)
        assert len(adopted) == 1
        assert adopted[0].id != placed.customer_channel_id  # the app holds the ;2 half
        await until(lambda: not ari.dispatcher.watched_keys())
    assert results == [Digits("12", "max_digits")]
    assert asyncio.all_tasks() - before == set()


@pytest.mark.asyncio
async def test_events_flow_in_order_for_parallel_calls(asterisk: SandboxInstance) -> None:
    seen: dict[str, list[str]] = {}

    async def record(event: object) -> None:
        channel = getattr(event, "channel", None)
        if channel is not None:
            seen.setdefault(channel.id, []).append(type(event).__name__)

    results: list[Digits] = []
    async with AriClient(asterisk.ari, OPTIONS) as ari:
        ari.on_any(record)  # type: ignore[arg-type]
        ari.on_new_channel(answer_and_collect(results))  # type: ignore[arg-type]
        await ari.wait_resynced(30)
        for n in range(4):
            await place_call(asterisk.ari, did=f"10{n}", script=SCRIPT)
        await until(lambda: len(results) == 4)
        await until(lambda: sum("StasisEnd" in v for v in seen.values()) == 4)
    assert results == [Digits("12", "max_digits")] * 4
    for events in seen.values():
        if "StasisStart" in events:
            assert events[0] == "StasisStart"
            assert events.index("StasisEnd") > events.index("ChannelDtmfReceived")


async def _events_of_a_call(asterisk: SandboxInstance, options: AriOptions) -> list[str]:
    """Run a call whose flow sets a channel variable; return the event types the app got."""
    seen: list[str] = []
    results: list[Digits] = []

    async def record(event: AriEvent) -> None:
        seen.append(event.type)

    async def flow(call: Call) -> None:
        await call.answer()
        await ari.channels.set_variable(call.id, "ZENTRALE_MARK", "1")  # a ChannelVarset
        results.append(await call.collect_digits(DigitRules(max_digits=2, first_digit_timeout=10)))
        await call.wait_for_hangup(max_wait=30)

    async with AriClient(asterisk.ari, options) as ari:
        ari.on_any(record)
        ari.on_new_channel(flow)
        await ari.wait_resynced(30)
        app = await ari.rest.request("GET", f"applications/{ari.app}")
        await place_call(asterisk.ari, did="100", script=SCRIPT)
        await until(lambda: len(results) == 1 and "StasisEnd" in seen)
    assert results == [Digits("12", "max_digits")]
    return [*seen, *(f"disallowed:{item['type']}" for item in app["events_disallowed"])]


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", ["websocket", "http"])
async def test_asterisk_leaves_out_the_events_the_app_filters(
    asterisk: SandboxInstance, transport: RestTransport
) -> None:
    filtered = await _events_of_a_call(
        asterisk, dataclasses.replace(OPTIONS, rest_transport=transport)
    )
    assert {f"disallowed:{name}" for name in IGNORED_EVENTS} <= set(filtered)
    assert not set(IGNORED_EVENTS) & set(filtered)
    assert {"StasisStart", "ChannelDtmfReceived", "StasisEnd"} <= set(filtered)
    # The same call with an empty filter (which also clears the one above, kept by Asterisk)
    everything = await _events_of_a_call(asterisk, dataclasses.replace(OPTIONS, ignored_events=()))
    assert "ChannelVarset" in everything
    assert not [name for name in everything if name.startswith("disallowed:")]
