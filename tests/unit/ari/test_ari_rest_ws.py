"""REST over the event WebSocket against the fake ARI server: the probe, the fallback to HTTP,
errors and retries the same on both transports, requests in flight when the socket drops,
and the per-call traffic counts."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from zentrale.telephony.ari import (
    AriClient,
    AriNotFoundError,
    AriServerError,
    AriTransportError,
    Call,
)
from zentrale.telephony.ari.config import AriOptions, RestTransport
from zentrale.testing.fake_ari import FakeAri

from .conftest import FAST, eventually


def _options(mode: RestTransport, **changes: float) -> AriOptions:
    return dataclasses.replace(FAST, rest_transport=mode, **changes)  # type: ignore[arg-type]


@pytest_asyncio.fixture(params=["websocket", "http"])
async def either(request: pytest.FixtureRequest, fake: FakeAri) -> AsyncIterator[AriClient]:
    """A started client with each REST transport."""
    async with AriClient(fake.credentials, _options(request.param)) as client:
        await client.wait_connected(5)
        await client.wait_resynced(5)
        yield client


def _transports(fake: FakeAri, method: str, path: str) -> list[str]:
    return [r.transport for r in fake.requests if r.method == method and r.path == path]


@pytest.mark.asyncio
async def test_auto_probes_and_sends_requests_on_the_websocket(
    fake: FakeAri, ari: AriClient
) -> None:
    fake.add_channel("c1")
    await ari.channels.answer("c1")
    assert ari.state.rest_transport == "websocket"
    assert ari.rest_transport == "websocket"
    assert _transports(fake, "GET", "/asterisk/ping") == ["websocket"]
    assert _transports(fake, "POST", "/channels/c1/answer") == ["websocket"]
    assert fake.channels["c1"]["state"] == "Up"


@pytest.mark.asyncio
async def test_auto_falls_back_to_http_when_the_probe_goes_unanswered(task_guard: None) -> None:
    async with (
        FakeAri(rest_over_ws=False) as old_asterisk,
        AriClient(old_asterisk.credentials, _options("auto", probe_timeout=0.1)) as client,
    ):
        await client.wait_resynced(5)
        old_asterisk.add_channel("c1")
        await client.channels.answer("c1")
        assert client.state.rest_transport == "http"
        assert client.rest_transport == "http"
        assert old_asterisk.ws_requests_ignored == 1
        assert {r.transport for r in old_asterisk.requests} == {"http"}


@pytest.mark.asyncio
async def test_http_setting_never_probes(fake: FakeAri) -> None:
    async with AriClient(fake.credentials, _options("http")) as client:
        await client.wait_resynced(5)
        assert client.rest_transport == "http"
        assert {r.transport for r in fake.requests} == {"http"}
        assert not _transports(fake, "GET", "/asterisk/ping")


@pytest.mark.asyncio
async def test_json_body_and_query_parameters_reach_asterisk(
    fake: FakeAri, either: AriClient
) -> None:
    channel = await either.channels.originate(
        "PJSIP/1001", app=fake.app, channel_id="o1", variables={"CALLER_LANG": "de"}
    )
    assert channel.id == "o1"
    originate = [r for r in fake.requests if r.path == "/channels/o1"][-1]
    assert originate.params["endpoint"] == "PJSIP/1001"
    assert originate.params["variables"] == {"CALLER_LANG": "de"}
    assert originate.transport == either.rest_transport


@pytest.mark.asyncio
async def test_errors_and_retries_are_the_same_on_both_transports(
    fake: FakeAri, either: AriClient
) -> None:
    with pytest.raises(AriNotFoundError) as missing:
        await either.channels.get("nobody")
    assert missing.value.status == 404
    assert missing.value.message == "Channel not found"
    fake.add_channel("c1")
    fake.fail("GET", r"^/channels/c1$", 503, times=2)
    assert (await either.channels.get("c1")).id == "c1"
    assert len(_transports(fake, "GET", "/channels/c1")) == 3
    fake.fail("POST", r"/dtmf$", 500)
    with pytest.raises(AriServerError):
        await either.channels.send_dtmf("c1", "1")
    assert _transports(fake, "POST", "/channels/c1/dtmf") == [either.rest_transport]


@pytest.mark.asyncio
async def test_drop_fails_requests_in_flight_and_retries_the_safe_ones(
    fake: FakeAri, task_guard: None
) -> None:
    async with AriClient(fake.credentials, _options("websocket")) as client:
        await client.wait_resynced(5)
        fake.add_channel("c1")
        fake.delay("POST", r"/dtmf$", 0.5)
        unsafe = asyncio.ensure_future(client.channels.send_dtmf("c1", "5"))
        safe = asyncio.ensure_future(client.channels.get("c1"))
        await eventually(lambda: _transports(fake, "POST", "/channels/c1/dtmf"))
        assert client.rest.ws.in_flight == 2
        fake.drop()
        with pytest.raises(AriTransportError, match="closed with the request in flight") as info:
            await unsafe
        assert info.value.sent
        assert (await safe).id == "c1"
        assert fake.ws_accepted == 2
        assert set(_transports(fake, "GET", "/channels/c1")) == {"websocket"}
        assert len(_transports(fake, "POST", "/channels/c1/dtmf")) == 1


@pytest.mark.asyncio
async def test_websocket_request_without_an_answer_times_out(fake: FakeAri) -> None:
    async with AriClient(fake.credentials, _options("websocket", request_timeout=0.2)) as client:
        await client.wait_resynced(5)
        fake.add_channel("c1")
        fake.delay("POST", r"/dtmf$", 1.0)
        with pytest.raises(AriTransportError, match=r"no RESTResponse within 0.2 s"):
            await client.channels.send_dtmf("c1", "5")


@pytest.mark.asyncio
async def test_websocket_setting_while_disconnected_is_a_not_sent_transport_error(
    fake: FakeAri,
) -> None:
    client = AriClient(fake.credentials, _options("websocket", connect_timeout=0.05))
    try:
        with pytest.raises(AriTransportError, match="WebSocket is not connected") as info:
            await client.channels.list()
        assert not info.value.sent
        assert client.rest.stats.retries == FAST.retry_attempts - 1
        assert fake.requests == []
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_requests_and_events_are_counted_per_call(fake: FakeAri, ari: AriClient) -> None:
    played = asyncio.Event()

    async def flow(call: Call) -> None:
        await call.answer()
        await call.play("sound:hello-world", max_wait=5)
        played.set()
        await call.wait_for_hangup(max_wait=5)

    ari.on_new_channel(flow)
    channel_id = fake.start_call()
    async with asyncio.timeout(5):
        await played.wait()
    fake.hangup(channel_id)
    await eventually(lambda: ari.traffic.calls == 1)
    assert ari.traffic.requests == 2  # answer, play
    # StasisStart (the call subscribes in its receive hook), ChannelStateChange,
    # PlaybackStarted, PlaybackFinished, ChannelHangupRequest, StasisEnd, ChannelDestroyed.
    assert ari.traffic.events == 7
    assert ari.traffic.per_call() == (2.0, 7.0)
