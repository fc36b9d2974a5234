"""Event WebSocket supervisor against the fake ARI: drops, clean closes, dead peers,
ApplicationReplaced, resync after reconnect, and no leaked tasks."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.telephony.ari import ApplicationReplacedError, AriClient, Call, ChannelGoneError
from zentrale.telephony.ari.events import ChannelDtmfReceived, StasisStart
from zentrale.telephony.ari.models import Bridge, Channel
from zentrale.testing.fake_ari import FakeAri

from .conftest import FAST, eventually


@pytest.mark.asyncio
async def test_abrupt_drop_mid_call_reconnects_and_call_keeps_flowing(
    fake: FakeAri, ari: AriClient
) -> None:
    digits: list[str] = []

    async def on_dtmf(event: ChannelDtmfReceived) -> None:
        digits.append(event.digit)

    ari.on(ChannelDtmfReceived, on_dtmf)
    call_id = fake.start_call("c1")
    fake.press(call_id, "1")
    await eventually(lambda: digits == ["1"])
    fake.drop()
    await eventually(lambda: ari.state.reconnects == 1 and ari.state.connected)
    await ari.wait_resynced(5)
    fake.press(call_id, "2")
    await eventually(lambda: digits == ["1", "2"])
    assert ari.state.disconnects == 1
    assert ari.state.last_error is not None


@pytest.mark.asyncio
async def test_clean_close_is_treated_as_a_disconnect(fake: FakeAri, ari: AriClient) -> None:
    fake.close_websockets(1000)
    await fake.wait_accepted(2)
    await eventually(lambda: ari.state.connected and ari.state.reconnects == 1)
    assert ari.state.last_error == "closed with code 1000"


@pytest.mark.asyncio
async def test_dead_peer_is_noticed_by_ping_timeout(fake: FakeAri, ari: AriClient) -> None:
    fake.freeze()
    await fake.wait_accepted(2, timeout=5)
    await eventually(lambda: ari.state.reconnects == 1)
    assert ari.state.disconnects == 1


@pytest.mark.asyncio
async def test_application_replaced_stops_without_reconnecting(
    fake: FakeAri, ari: AriClient
) -> None:
    fake.replace_app()
    with pytest.raises(ApplicationReplacedError):
        await ari.wait_stopped()
    assert not ari.state.connected
    assert isinstance(ari.state.stopped_error, ApplicationReplacedError)
    await asyncio.sleep(FAST.backoff_max * 3)
    assert fake.ws_accepted == 1


@pytest.mark.asyncio
async def test_resync_after_reconnect_reports_channels_that_stayed_in_stasis(
    fake: FakeAri, ari: AriClient
) -> None:
    reports: list[tuple[list[Channel], list[Bridge]]] = []

    async def on_resync(channels: list[Channel], bridges: list[Bridge]) -> None:
        reports.append((channels, bridges))

    ari.on_resync(on_resync)
    fake.drop()
    fake.add_channel("lingering")  # entered Stasis while we were away: no StasisStart for us
    fake.add_channel("not-ours", in_app=False)
    fake.bridges["b1"] = {"id": "b1", "bridge_type": "mixing", "channels": ["lingering"]}
    await eventually(lambda: bool(reports))
    channels, bridges = reports[-1]
    assert [c.id for c in channels] == ["lingering"]
    assert [b.id for b in bridges] == ["b1"]


@pytest.mark.asyncio
async def test_adopted_channel_runs_the_call_flow(fake: FakeAri, ari: AriClient) -> None:
    adopted: list[bool] = []

    async def flow(call: Call) -> None:
        adopted.append(call.adopted)
        await call.answer()

    async def on_resync(channels: list[Channel], bridges: list[Bridge]) -> None:
        for channel in channels:
            ari.adopt(channel, flow)

    ari.on_resync(on_resync)
    fake.drop()
    fake.add_channel("lingering")
    await eventually(lambda: fake.channels["lingering"]["state"] == "Up")
    assert adopted == [True]


@pytest.mark.asyncio
async def test_channel_that_vanished_while_disconnected_ends_its_waiters(
    fake: FakeAri, ari: AriClient
) -> None:
    outcome: list[str] = []

    async def flow(call: Call) -> None:
        try:
            await call.wait_for_hangup()
        except ChannelGoneError as exc:
            outcome.append(exc.reason)

    ari.on_new_channel(flow)
    fake.start_call("c1")
    await eventually(lambda: "channel:c1" in ari.dispatcher.watched_keys())
    fake.drop()
    fake.vanish("c1")  # hung up while no client was connected: Asterisk drops the events
    await eventually(lambda: bool(outcome))
    assert outcome == ["vanished while disconnected"]


@pytest.mark.asyncio
async def test_rejected_handshake_is_retried_and_reported(fake: FakeAri) -> None:
    fake.reject_websocket_status = 503
    async with AriClient(fake.credentials, FAST) as ari:
        await eventually(lambda: ari.state.last_error == "handshake rejected: HTTP 503")
        fake.reject_websocket_status = None
        await ari.wait_connected(5)
    assert ari.state.connects == 1


@pytest.mark.asyncio
async def test_resync_failure_is_reported_not_fatal(fake: FakeAri) -> None:
    fake.fail("GET", r"^/applications/", 500, times=FAST.retry_attempts)
    async with AriClient(fake.credentials, FAST) as ari:
        await eventually(lambda: (ari.state.last_error or "").startswith("resync failed"))
        fake.drop()
        await ari.wait_resynced(5)
        assert ari.state.connected


@pytest.mark.asyncio
async def test_close_leaves_no_tasks_after_calls_and_reconnects(fake: FakeAri) -> None:
    before = asyncio.all_tasks()

    async def flow(call: Call) -> None:
        await call.wait_for_hangup()

    async with AriClient(fake.credentials, FAST) as ari:
        ari.on_new_channel(flow)
        await ari.wait_resynced(5)
        for n in range(20):
            fake.start_call(f"c{n}")
        fake.drop()
        await ari.wait_connected(5)
        await eventually(lambda: ari.dispatch_stats().received >= 20)
    # The fake's own connection handlers end later (task_guard checks them after it closes).
    left = {t for t in asyncio.all_tasks() - before if "FakeAri" not in repr(t.get_coro())}
    assert left == set()


@pytest.mark.asyncio
async def test_stasis_start_handler_sees_typed_event(fake: FakeAri, ari: AriClient) -> None:
    starts: list[StasisStart] = []

    async def on_start(event: StasisStart) -> None:
        starts.append(event)

    ari.on(StasisStart, on_start)
    fake.start_call("c1", args=["inbound"], caller="015209999999")
    await eventually(lambda: bool(starts))
    assert starts[0].args == ["inbound"]
    assert starts[0].channel.caller.number == "015209999999"
