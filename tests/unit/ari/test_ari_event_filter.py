"""The app's event filter against the fake ARI server: asked for at every connect on either REST
transport, honoured by an Asterisk that has it, and harmless on one that has not (404)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from zentrale.telephony.ari import AriClient, Call
from zentrale.telephony.ari.config import IGNORED_EVENTS, RestTransport
from zentrale.telephony.ari.events import AriEvent
from zentrale.testing.fake_ari import FakeAri

from .conftest import FAST, eventually

pytestmark = pytest.mark.asyncio


def _filter_requests(fake: FakeAri) -> list[str]:
    return [r.transport for r in fake.requests if r.path.endswith("/eventFilter")]


@pytest.mark.parametrize("transport", ["websocket", "http"])
async def test_the_client_asks_asterisk_not_to_send_the_ignored_events_at_every_connect(
    fake: FakeAri, transport: RestTransport
) -> None:
    seen: list[str] = []

    async def note(event: AriEvent) -> None:
        seen.append(event.type)

    options = dataclasses.replace(FAST, rest_transport=transport)
    async with AriClient(fake.credentials, options) as client:
        client.on_any(note)
        await client.wait_resynced(5)
        assert fake.events_disallowed == set(IGNORED_EVENTS)
        assert client.state.event_filter is True
        assert _filter_requests(fake) == [transport]
        fake.emit("ChannelVarset", variable="BRIDGEPEER", value="x", channel={"id": "c1"})
        fake.emit("ChannelStateChange", channel=fake.add_channel("c1"))
        await eventually(lambda: "ChannelStateChange" in seen)
        assert "ChannelVarset" not in seen
        fake.events_disallowed.clear()  # as a restarted Asterisk, which forgot it
        fake.drop()
        await eventually(lambda: len(_filter_requests(fake)) == 2)
        await client.wait_resynced(5)
        assert fake.events_disallowed == set(IGNORED_EVENTS)


async def test_an_asterisk_without_event_filters_still_runs_calls(task_guard: None) -> None:
    answered = asyncio.Event()

    async def flow(call: Call) -> None:
        await call.answer()
        answered.set()

    async with (
        FakeAri(event_filter=False) as old_asterisk,
        AriClient(old_asterisk.credentials, FAST) as client,
    ):
        await client.wait_resynced(5)
        assert client.state.event_filter is False
        assert _filter_requests(old_asterisk) == ["websocket"]  # asked once, 404, not retried
        client.on_new_channel(flow)
        channel_id = old_asterisk.start_call()
        async with asyncio.timeout(5):
            await answered.wait()
        assert old_asterisk.channels[channel_id]["state"] == "Up"


async def test_no_ignored_events_clears_the_filter_an_earlier_client_left(fake: FakeAri) -> None:
    fake.events_disallowed = {"ChannelVarset"}  # Asterisk keeps it across connections
    async with AriClient(fake.credentials, dataclasses.replace(FAST, ignored_events=())) as client:
        await client.wait_resynced(5)
        assert client.state.event_filter is True
        assert fake.events_disallowed == set()
