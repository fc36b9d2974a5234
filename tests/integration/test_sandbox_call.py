"""A real call through the sandbox Asterisk: the dialplan, simulated customer and ARI work.

Speaks raw ARI (httpx + websockets) on purpose: this checks the sandbox and its scripted
people, independently of zentrale's own ARI client.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from zentrale.sandbox import AriCredentials, SandboxInstance
from zentrale.sandbox.simulate import (
    CustomerScript,
    PartyMode,
    PartyScript,
    place_call,
    script_party,
)
from zentrale.telephony.ari.config import events_url


def _auth_header(creds: AriCredentials) -> dict[str, str]:
    token = f"{creds.username}:{creds.password.get_secret_value()}".encode()
    return {"Authorization": "Basic " + base64.b64encode(token).decode()}


class EventLog:
    """Events of one WebSocket, kept so a test can wait for kinds in any order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.taken = 0

    @property
    def kinds(self) -> list[str]:
        return [event["type"] for event in self.events]

    async def wait(self, kind: str, timeout: float = 20) -> dict[str, Any]:  # noqa: ASYNC109
        """Return the first event of KIND not returned before, reading more as needed."""
        found = self._find(kind)
        try:
            async with asyncio.timeout(timeout):
                while found is None:
                    self.events.append(json.loads(await self.ws.recv()))
                    found = self._find(kind)
        except TimeoutError:
            raise AssertionError(f"no {kind} within {timeout} s; seen: {self.kinds}") from None
        return found

    async def wait_channel(self, kind: str, channel_id: str) -> dict[str, Any]:
        """Return the next event of KIND about CHANNEL_ID."""
        while (event := await self.wait(kind))["channel"]["id"] != channel_id:
            pass
        return event

    def _find(self, kind: str) -> dict[str, Any] | None:
        for event in self.events:
            if event["type"] == kind and not event.get("_taken"):
                event["_taken"] = True
                return event
        return None


@pytest_asyncio.fixture
async def ari(asterisk: SandboxInstance) -> AsyncIterator[tuple[EventLog, httpx.AsyncClient]]:
    creds = asterisk.ari
    auth = (creds.username, creds.password.get_secret_value())
    async with (
        connect(
            events_url(creds.base_url, creds.app), additional_headers=_auth_header(creds)
        ) as ws,
        httpx.AsyncClient(base_url=creds.base_url, auth=auth, timeout=10) as http,
    ):
        await _registered(http, creds.app)
        yield EventLog(ws), http


async def _registered(http: httpx.AsyncClient, app: str) -> None:
    # The app is registered a moment after the WebSocket handshake; a call placed before that
    # finds no app and takes the dialplan fallback.
    for _ in range(100):
        if (await http.get(f"/applications/{app}")).status_code == 200:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"app {app} never registered")


@pytest.mark.asyncio
async def test_inbound_call_answered_bridged_recorded(
    asterisk: SandboxInstance, ari: tuple[EventLog, httpx.AsyncClient]
) -> None:
    events, http = ari
    script = CustomerScript(digits="7", digit_delay=1, talk=3)
    call = await place_call(asterisk.ari, did="4930123", caller="+905551112233", script=script)

    start = await events.wait("StasisStart")
    channel = start["channel"]
    assert channel["state"] == "Ring"  # like a trunk call: the app answers, not the dialplan
    assert channel["caller"]["number"] == "+905551112233"
    assert start["args"] == ["inbound", "4930123"]
    assert channel["id"] == call.customer_channel_id + ";2"  # Asterisk names the ;2 half

    assert (await http.post(f"/channels/{channel['id']}/answer")).status_code == 204
    bridge = (await http.post("/bridges", params={"type": "mixing,dtmf_events"})).json()
    await http.post(f"/bridges/{bridge['id']}/addChannel", params={"channel": channel["id"]})
    name = f"sandbox-test-{bridge['id']}"
    started = await http.post(
        f"/bridges/{bridge['id']}/record", params={"name": name, "format": "wav"}
    )
    assert started.status_code == 201

    dtmf = await events.wait("ChannelDtmfReceived")
    assert dtmf["digit"] == "7"
    hangup = await events.wait("ChannelHangupRequest")
    assert hangup["cause"] == 16  # normal clearing: the customer hung up after talking
    await events.wait("StasisEnd")
    # Stop the recording before destroying the bridge: a RecordingFinished that comes after
    # BridgeDestroyed is no longer sent to the app (what zentrale's Conversation.close does).
    await http.post(f"/recordings/live/{name}/stop")  # 404 when it already finished: fine
    finished = await events.wait("RecordingFinished")
    assert (await http.delete(f"/bridges/{bridge['id']}")).status_code == 204

    assert events.kinds.index("RecordingStarted") < events.kinds.index("ChannelDtmfReceived")
    audio = await http.get(f"/recordings/stored/{name}/file")
    assert audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
    # 1 s before the digit, ~0.4 s of DTMF, speech in whole 1.42 s prompts for >= 3 s.
    assert 4.0 <= seconds <= 6.5
    assert abs(seconds - finished["recording"]["duration"]) <= 1
    await http.delete(f"/recordings/stored/{name}")
    assert (await http.get("/channels")).json() == []
    assert (await http.get("/bridges")).json() == []
    assert "0 active channels" in asterisk.cli("core show channels")


async def _poll(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.asyncio
async def test_no_app_connected_falls_back_to_message(asterisk: SandboxInstance) -> None:
    # No WebSocket for this app: Stasis() fails at once and the fallback answers with a message.
    creds = asterisk.ari
    auth = (creds.username, creds.password.get_secret_value())
    call = await place_call(creds, did="100", script=CustomerScript(then="wait"))
    customer = f"/channels/{call.customer_channel_id}"
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth, timeout=10) as http:

        async def answered() -> bool:
            reply = await http.get(customer)
            return reply.status_code == 200 and reply.json()["state"] == "Up"

        async def gone() -> bool:
            return (await http.get(customer)).status_code == 404

        assert await _poll(answered, 5)
        status = await http.get(f"{customer};2/variable", params={"variable": "STASISSTATUS"})
        assert status.json()["value"] == "FAILED"
        assert not await gone()  # still hearing please-try-call-later (2.2 s)
        assert await _poll(gone, 8)  # then the fallback hangs up


@pytest.mark.asyncio
async def test_scripted_agent_answers_then_hangs_up(
    asterisk: SandboxInstance, ari: tuple[EventLog, httpx.AsyncClient]
) -> None:
    events, http = ari
    script = PartyScript(mode="answer", answer_after=0.5, talk=2, then="hangup")
    await script_party(asterisk.ari, "agent", "1001", script)
    leg = await _ring(http, asterisk, "Local/1001@sim-agent/n")
    start = await events.wait("StasisStart")  # the agent answered: its leg joins the app
    assert (start["channel"]["id"], start["channel"]["state"]) == (leg, "Up")
    end = await events.wait_channel("ChannelHangupRequest", leg)  # after 2 s of speech
    assert end["cause"] == 16


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "ident", "mode"),
    [("agent", "1002", "busy"), ("agent", "1003", "unavailable"), ("number", "+4930555", "busy")],
)
async def test_scripted_party_refuses(
    asterisk: SandboxInstance,
    ari: tuple[EventLog, httpx.AsyncClient],
    kind: Literal["agent", "number"],
    ident: str,
    mode: PartyMode,
) -> None:
    events, http = ari
    await script_party(asterisk.ari, kind, ident, PartyScript(mode=mode))
    leg = await _ring(http, asterisk, f"Local/{ident}@sim-{kind}/n")
    destroyed = await events.wait_channel("ChannelDestroyed", leg)
    dialled = [e["dialstatus"] for e in events.events if e["type"] == "Dial" and e["dialstatus"]]
    hangups = [e["cause"] for e in events.events if e["type"] == "ChannelHangupRequest"]
    if mode == "busy":
        assert dialled == ["BUSY"]  # what a call flow sees for a busy agent
    else:
        assert 20 in hangups  # subscriber absent, as for an unregistered phone
    assert destroyed["channel"]["state"] != "Up"
    assert "StasisStart" not in events.kinds


async def _ring(http: httpx.AsyncClient, asterisk: SandboxInstance, endpoint: str) -> str:
    params = {"endpoint": endpoint, "app": asterisk.ari.app, "timeout": "10"}
    reply = await http.post("/channels", params=params)
    assert reply.status_code == 200
    return str(reply.json()["id"])
