"""A fake Asterisk ARI server (HTTP + event WebSocket on one loopback port) for tests and benches.

It keeps channels and bridges in memory, answers the REST calls the client makes, emits the events
Asterisk would (StasisStart, PlaybackFinished, hangup sequence ...), and injects faults: abrupt
drops, clean closes, frozen peers (no pongs), delays and error statuses per route,
ApplicationReplaced, and replays of recorded JSON-lines event streams. Like Asterisk 22 it answers
REST requests sent on the event WebSocket (``RESTRequest`` → ``RESTResponse``, one at a time per
socket, in order); ``rest_over_ws=False`` makes it ignore them like Asterisk 20. Run it in-process
(``async with FakeAri() as fake``) or as ``python -m zentrale.testing.fake_ari`` for benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import SecretStr
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from zentrale.telephony.ari.config import AriCredentials
from zentrale.testing._http import HttpRequest, HttpResponse, read_request

Route = Callable[[HttpRequest, re.Match[str]], Awaitable[HttpResponse]]
_ids = itertools.count(1)


def now_iso() -> str:
    """Timestamp in ARI's format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def channel_json(
    channel_id: str, *, state: str = "Ring", caller: str = "015200000000"
) -> dict[str, Any]:
    """A Channel object as ARI sends it."""
    return {
        "id": channel_id,
        "name": f"PJSIP/trunk-{channel_id[-8:]}",
        "state": state,
        "protocol_id": "",
        "caller": {"name": "", "number": caller},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "zentrale-inbound",
            "exten": "100",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": "zentrale",
        },
        "creationtime": now_iso(),
        "language": "de",
    }


def bridge_json(bridge_id: str, bridge_type: str = "mixing") -> dict[str, Any]:
    """A Bridge object as ARI sends it."""
    return {
        "id": bridge_id,
        "technology": "simple_bridge",
        "bridge_type": bridge_type.split(",")[0],
        "bridge_class": "stasis",
        "creator": "Stasis",
        "name": "",
        "channels": [],
        "creationtime": now_iso(),
        "video_mode": "none",
    }


@dataclass
class Fault:
    """An injected fault on matching requests: a status, a delay, or both."""

    method: str
    pattern: re.Pattern[str]
    status: int | None = None
    delay: float = 0.0
    times: int | None = 1
    message: str = "injected fault"


@dataclass
class RecordedRequest:
    """A request the fake received (for assertions)."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    transport: str = "http"


class _Socket:
    """One accepted event WebSocket, driven through websockets' sans-I/O protocol."""

    def __init__(self, protocol: ServerProtocol, writer: asyncio.StreamWriter) -> None:
        self.protocol = protocol
        self.writer = writer
        self.frozen = False
        self.rest_turn = asyncio.Lock()  # Asterisk runs one socket's requests one at a time

    def send_text(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.protocol.send_text(data)
        self.flush()

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)

    def close(self, code: int = 1000) -> None:
        self.protocol.send_close(code, "")
        self.flush()

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()


class FakeAri:
    """In-memory ARI: REST resources, event WebSocket, fault injection, replays."""

    def __init__(
        self,
        *,
        app: str = "zentrale-test",
        username: str = "zentrale",
        password: str = "fake-secret",  # noqa: S107 - a test double
        playback_seconds: float = 0.01,
        replay_on_connect: Path | None = None,
        replay_rate: float | None = None,
        rest_over_ws: bool = True,
        event_filter: bool = True,
    ) -> None:
        self.app = app
        self.rest_over_ws = rest_over_ws
        self.event_filter = event_filter
        """Whether it has `PUT applications/{app}/eventFilter` (Asterisk 16.3+; False: 404)."""
        self.events_disallowed: set[str] = set()
        self.username = username
        self._password = password
        self.playback_seconds = playback_seconds
        self.replay_on_connect = replay_on_connect
        self.replay_rate = replay_rate
        self.channels: dict[str, dict[str, Any]] = {}
        self.in_app: set[str] = set()
        self.bridges: dict[str, dict[str, Any]] = {}
        self.live_recordings: dict[str, dict[str, Any]] = {}
        """Bridge recordings in progress, by name; finished by a stop or the bridge's end."""
        self.variables: dict[tuple[str, str], str] = {}
        self.stored_files: dict[str, bytes] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.ws_accepted = 0
        self.ws_requests_ignored = 0
        self.reject_websocket_status: int | None = None
        self._sockets: set[_Socket] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._ws_changed = asyncio.Condition()
        self._routes = self._build_routes()
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a random free port by default)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Close sockets, background tasks and the listener."""
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Aborting makes every connection handler see end-of-stream and return by itself
        # (Python 3.11's start_server callback chokes on handlers that end cancelled).
        for writer in tuple(self._connections.values()):
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> FakeAri:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/ari``."""
        return f"http://127.0.0.1:{self.port}/ari"

    @property
    def credentials(self) -> AriCredentials:
        """Credentials a client needs to talk to this fake."""
        return AriCredentials(
            base_url=self.base_url,
            username=self.username,
            password=SecretStr(self._password),
            app=self.app,
        )

    # -- fault injection -----------------------------------------------------------------
    def fail(self, method: str, path: str, status: int, *, times: int | None = 1) -> None:
        """Answer ``status`` to the next ``times`` requests matching (``None``: always)."""
        self.faults.append(Fault(method, re.compile(path), status=status, times=times))

    def delay(self, method: str, path: str, seconds: float, *, times: int | None = 1) -> None:
        """Delay the next matching requests by ``seconds``."""
        self.faults.append(Fault(method, re.compile(path), delay=seconds, times=times))

    def drop(self) -> None:
        """Abort every event WebSocket without a close frame (like a crash or cable pull)."""
        for sock in tuple(self._sockets):
            sock.abort()

    def close_websockets(self, code: int = 1000) -> None:
        """Close every event WebSocket cleanly with ``code``."""
        for sock in tuple(self._sockets):
            sock.close(code)

    def freeze(self) -> None:
        """Stop reading from the sockets: pings go unanswered, like a hung peer."""
        for sock in self._sockets:
            sock.frozen = True
            sock.writer.transport.pause_reading()  # type: ignore[attr-defined]

    def replace_app(self) -> None:
        """Send ApplicationReplaced, as when another client registers our app name."""
        self.send({"type": "ApplicationReplaced", "application": self.app})

    @property
    def connected(self) -> int:
        """Number of open event WebSockets."""
        return len(self._sockets)

    async def wait_accepted(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` WebSocket connections have been accepted in total."""
        async with asyncio.timeout(timeout), self._ws_changed:
            await self._ws_changed.wait_for(lambda: self.ws_accepted >= count and self.connected)

    # -- events --------------------------------------------------------------------------
    def send(self, event: dict[str, Any]) -> None:
        """Send one raw event to every connected socket (fills application, timestamp)."""
        if event.get("type") in self.events_disallowed:
            return  # as Asterisk: the app's event filter drops it
        event.setdefault("application", self.app)
        event.setdefault("timestamp", now_iso())
        text = json.dumps(event)
        for sock in tuple(self._sockets):
            sock.send_text(text)

    def emit(self, event_type: str, **fields: Any) -> None:
        """Send an event of ``event_type`` with ``fields``."""
        self.send({"type": event_type, **fields})

    def add_channel(
        self, channel_id: str | None = None, *, in_app: bool = True, caller: str = "015200000000"
    ) -> dict[str, Any]:
        """Create a channel (in our app by default) without any event."""
        channel_id = channel_id or f"{int(time.time())}.{next(_ids)}"
        self.channels[channel_id] = channel_json(channel_id, caller=caller)
        if in_app:
            self.in_app.add(channel_id)
        return self.channels[channel_id]

    def start_call(
        self,
        channel_id: str | None = None,
        *,
        args: list[str] | None = None,
        caller: str = "015200000000",
    ) -> str:
        """A new inbound call entering Stasis: add the channel and send StasisStart."""
        channel = self.add_channel(channel_id, caller=caller)
        self.emit("StasisStart", args=args or [], channel=channel)
        return str(channel["id"])

    def press(self, channel_id: str, digits: str) -> None:
        """The caller presses DTMF digits."""
        for digit in digits:
            self.emit(
                "ChannelDtmfReceived",
                digit=digit,
                duration_ms=100,
                channel=self.channels[channel_id],
            )

    def hangup(self, channel_id: str, cause: int = 16) -> None:
        """The caller hangs up: HangupRequest, StasisEnd, ChannelDestroyed; channel removed."""
        channel = self.channels.pop(channel_id)
        self.in_app.discard(channel_id)
        self.emit("ChannelHangupRequest", cause=cause, channel=channel)
        self.emit("StasisEnd", channel=channel)
        self.emit("ChannelDestroyed", cause=cause, cause_txt="Normal Clearing", channel=channel)

    def vanish(self, channel_id: str) -> None:
        """Remove a channel silently (it hung up while no client listened)."""
        self.channels.pop(channel_id, None)
        self.in_app.discard(channel_id)

    async def replay(self, path: Path, rate: float | None = None) -> int:
        """Send a recorded JSON-lines event stream, as fast as possible or at ``rate``/s."""
        data = await asyncio.to_thread(path.read_bytes)
        lines = [line for line in data.splitlines() if line.strip()]
        sockets = tuple(self._sockets)
        start = time.perf_counter()
        for index, line in enumerate(lines):
            for sock in sockets:
                sock.send_text(line)
            await self._pace(sockets, index, start, rate)
        for sock in sockets:
            await sock.writer.drain()
        return len(lines)

    @staticmethod
    async def _pace(
        sockets: tuple[_Socket, ...], index: int, start: float, rate: float | None
    ) -> None:
        if rate is not None:
            delay = start + (index + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        elif index % 256 == 255:
            for sock in sockets:
                await sock.writer.drain()

    # -- connection handling -------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            with contextlib.suppress(ConnectionError):
                await self._serve_requests(reader, writer)
        finally:
            del self._connections[task]
            writer.close()

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (request := await read_request(reader)) is not None:
            if not self._authorised(request):
                writer.write(
                    HttpResponse.of_json(401, {"message": "Authentication required"}).encode()
                )
                return
            if request.is_websocket:
                await self._websocket(request, reader, writer)
                return
            writer.write((await self._http(request)).encode())
            await writer.drain()

    def _authorised(self, request: HttpRequest) -> bool:
        token = base64.b64encode(f"{self.username}:{self._password}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {token}"

    async def _http(self, request: HttpRequest, transport: str = "http") -> HttpResponse:
        path = request.path.removeprefix("/ari")
        self.requests.append(RecordedRequest(request.method, path, request.params(), transport))
        fault = self._take_fault(request.method, path)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return HttpResponse.of_json(fault.status, {"message": fault.message})
        for method, pattern, route in self._routes:
            match = pattern.fullmatch(path)
            if method == request.method and match:
                return await route(request, match)
        return HttpResponse.of_json(404, {"message": "Resource not found"})

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.pattern.search(path) and fault.times != 0:
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def _websocket(
        self, request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.reject_websocket_status is not None:
            writer.write(HttpResponse.of_json(self.reject_websocket_status, {}).encode())
            return
        protocol = ServerProtocol()
        protocol.receive_data(request.head)
        handshake = protocol.events_received()[0]
        protocol.send_response(protocol.accept(handshake))  # type: ignore[arg-type]
        sock = _Socket(protocol, writer)
        sock.flush()
        await self._register(sock)
        try:
            if self.replay_on_connect is not None:
                self._spawn(self._replay_then_close(sock))
            await self._pump(sock, reader)
        finally:
            self._sockets.discard(sock)

    async def _register(self, sock: _Socket) -> None:
        self._sockets.add(sock)
        self.ws_accepted += 1
        async with self._ws_changed:
            self._ws_changed.notify_all()

    async def _pump(self, sock: _Socket, reader: asyncio.StreamReader) -> None:
        # Feeding received bytes lets websockets answer pings and close frames by itself.
        while data := await reader.read(65536):
            sock.protocol.receive_data(data)
            for event in sock.protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                    sock.flush()
                    return
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    self._take_message(sock, bytes(event.data))
            sock.flush()

    def _take_message(self, sock: _Socket, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not self.rest_over_ws:
            self.ws_requests_ignored += 1  # Asterisk 20/21: the frame is read and dropped
            return
        if not isinstance(message, dict) or message.get("type") != "RESTRequest":
            sock.send_text(json.dumps(_rest_response({}, 400, "Bad request")))
            return
        self._spawn(self._ws_request(sock, message))

    async def _ws_request(self, sock: _Socket, message: dict[str, Any]) -> None:
        async with sock.rest_turn:
            uri = str(message.get("uri", ""))
            body = message.get("message_body") or ""
            request = HttpRequest(
                method=str(message.get("method", "")),
                target="/ari/" + uri,
                headers={"content-type": str(message.get("content_type", ""))},
                head=b"",
                body=body.encode() if isinstance(body, str) else b"",
            )
            response = await self._http(request, transport="websocket")
            if response.body and response.content_type != "application/json":
                response = HttpResponse(406)  # Asterisk: "Not Acceptable.  Use HTTP GET"
            reply = _rest_response(message, response.status, response.reason)
            reply["application"] = self.app
            if response.body:
                reply.update(content_type="application/json", message_body=response.body.decode())
            if sock in self._sockets:
                sock.send_text(json.dumps(reply))

    async def _replay_then_close(self, sock: _Socket) -> None:
        assert self.replay_on_connect is not None
        await self.replay(self.replay_on_connect, self.replay_rate)
        sock.close()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- REST routes ---------------------------------------------------------------------
    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        table: list[tuple[str, str, Route]] = [
            ("GET", r"/applications/([^/]+)", self._get_application),
            ("PUT", r"/applications/([^/]+)/eventFilter", self._filter_events),
            ("GET", r"/channels", self._list_channels),
            ("POST", r"/channels(?:/([^/]+))?", self._originate),
            ("GET", r"/channels/([^/]+)", self._get_channel),
            ("DELETE", r"/channels/([^/]+)", self._hangup),
            ("POST", r"/channels/([^/]+)/answer", self._answer),
            ("POST", r"/channels/([^/]+)/play/([^/]+)", self._play),
            ("POST", r"/channels/([^/]+)/variable", self._set_variable),
            ("GET", r"/channels/([^/]+)/variable", self._get_variable),
            ("POST", r"/channels/([^/]+)/(?:ring|moh|dtmf|record)", self._channel_noop),
            ("DELETE", r"/channels/([^/]+)/(?:ring|moh)", self._channel_noop),
            ("DELETE", r"/playbacks/([^/]+)", self._stop_playback),
            ("GET", r"/bridges", self._list_bridges),
            ("POST", r"/bridges/([^/]+)", self._create_bridge),
            ("DELETE", r"/bridges/([^/]+)", self._destroy_bridge),
            ("POST", r"/bridges/([^/]+)/(addChannel|removeChannel)", self._bridge_member),
            ("POST", r"/bridges/([^/]+)/record", self._record_bridge),
            ("POST", r"/recordings/live/([^/]+)/stop", self._stop_recording),
            ("POST", r"/bridges/([^/]+)/moh", self._bridge_noop),
            ("DELETE", r"/bridges/([^/]+)/moh", self._bridge_noop),
            ("GET", r"/recordings/stored/([^/]+)/file", self._stored_file),
            ("DELETE", r"/recordings/stored/([^/]+)", self._delete_stored),
            ("GET", r"/asterisk/info", self._info),
            ("GET", r"/asterisk/ping", self._ping),
        ]
        return [(method, re.compile(pattern), route) for method, pattern, route in table]

    async def _get_application(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if m[1] != self.app:
            return HttpResponse.of_json(404, {"message": "Application not found"})
        return HttpResponse.of_json(
            200,
            {
                "name": self.app,
                "channel_ids": sorted(self.in_app),
                "bridge_ids": sorted(self.bridges),
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [],
                "events_disallowed": [{"type": name} for name in sorted(self.events_disallowed)],
            },
        )

    async def _filter_events(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if not self.event_filter:
            return HttpResponse.of_json(404, {"message": "Resource not found"})
        if m[1] != self.app:
            return HttpResponse.of_json(404, {"message": "Application not found"})
        listed = request.json().get("disallowed", [])
        if not isinstance(listed, list) or not all(isinstance(i, dict) for i in listed):
            return HttpResponse.of_json(400, {"message": "Invalid event filter"})
        self.events_disallowed = {str(item.get("type")) for item in listed}
        return await self._get_application(request, m)

    async def _list_channels(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return HttpResponse.of_json(200, list(self.channels.values()))

    async def _originate(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        params = request.params()
        if "endpoint" not in params:
            return HttpResponse.of_json(400, {"message": "Endpoint must be specified"})
        if "/" not in params["endpoint"]:
            return HttpResponse.of_json(400, {"message": "Invalid endpoint: no technology"})
        if params.get("originator") and params["originator"] not in self.channels:
            # Asterisk 22's words for a caller that hung up before their agent was rung.
            message = "Provided originator channel was not found"
            return HttpResponse.of_json(400, {"message": message})
        channel_id = m[1] or f"{int(time.time())}.{next(_ids)}"
        if channel_id in self.channels:
            return HttpResponse.of_json(409, {"message": "Channel with given unique ID exists"})
        channel = self.add_channel(channel_id, in_app=False)
        return HttpResponse.of_json(200, {**channel, "state": "Down"})

    async def _get_channel(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        channel = self.channels.get(m[1])
        if channel is None:
            return _channel_not_found()
        return HttpResponse.of_json(200, channel)

    async def _hangup(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if m[1] not in self.channels:
            return _channel_not_found()
        self.hangup(m[1])
        return HttpResponse(204)

    async def _answer(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        channel = self.channels.get(m[1])
        if channel is None:
            return _channel_not_found()
        channel["state"] = "Up"
        self.emit("ChannelStateChange", channel=channel)
        return HttpResponse(204)

    async def _play(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if m[1] not in self.channels:
            return _channel_not_found()
        playback = {
            "id": m[2],
            "media_uri": request.params().get("media", ""),
            "target_uri": f"channel:{m[1]}",
            "language": "de",
            "state": "playing",
        }
        self.emit("PlaybackStarted", playback=playback)
        self._spawn(self._finish_playback(playback))
        return HttpResponse.of_json(201, playback)

    async def _finish_playback(self, playback: dict[str, Any]) -> None:
        await asyncio.sleep(self.playback_seconds)
        if playback["state"] == "playing":
            self.emit("PlaybackFinished", playback={**playback, "state": "done"})

    async def _stop_playback(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return HttpResponse(204)

    async def _set_variable(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        params = request.params()
        self.variables[(m[1], params["variable"])] = params.get("value", "")
        return HttpResponse(204)

    async def _get_variable(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        value = self.variables.get((m[1], request.query.get("variable", "")))
        if value is None:
            return HttpResponse.of_json(404, {"message": "Provided variable was not found"})
        return HttpResponse.of_json(200, {"value": value})

    async def _channel_noop(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return HttpResponse(204) if m[1] in self.channels else _channel_not_found()

    async def _bridge_noop(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if m[1] in self.bridges:
            return HttpResponse(204)
        return HttpResponse.of_json(404, {"message": "Bridge not found"})

    async def _list_bridges(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return HttpResponse.of_json(200, list(self.bridges.values()))

    async def _create_bridge(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        bridge = bridge_json(m[1], request.params().get("type", "mixing"))
        self.bridges[m[1]] = bridge
        self.emit("BridgeCreated", bridge=bridge)
        return HttpResponse.of_json(200, bridge)

    async def _destroy_bridge(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        bridge = self.bridges.pop(m[1], None)
        if bridge is None:
            return HttpResponse.of_json(404, {"message": "Bridge not found"})
        # As Asterisk: the bridge's recorder leaves with it, which finishes its recordings.
        for name, recording in list(self.live_recordings.items()):
            if recording["target_uri"] == f"bridge:{m[1]}":
                self._finish_recording(name)
        self.emit("BridgeDestroyed", bridge=bridge)
        return HttpResponse(204)

    async def _record_bridge(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if m[1] not in self.bridges:
            return HttpResponse.of_json(404, {"message": "Bridge not found"})
        params = request.params()
        recording = {
            "name": str(params["name"]),
            "format": str(params.get("format", "wav")),
            "target_uri": f"bridge:{m[1]}",
            "state": "recording",
        }
        self.live_recordings[recording["name"]] = {**recording, "started": time.monotonic()}
        self.emit("RecordingStarted", recording=recording)
        return HttpResponse.of_json(201, recording)

    async def _stop_recording(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if m[1] not in self.live_recordings:
            return HttpResponse.of_json(404, {"message": "Recording not found"})
        self._finish_recording(m[1])
        return HttpResponse(204)

    def _finish_recording(self, name: str) -> None:
        recording = self.live_recordings.pop(name)
        seconds = int(time.monotonic() - recording.pop("started"))
        finished = {**recording, "state": "done", "duration": seconds}
        self.emit("RecordingFinished", recording=finished)

    async def _bridge_member(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        bridge = self.bridges.get(m[1])
        # ARI takes a comma-separated list; all are found or none is added (as Asterisk)
        channel_ids = str(request.params().get("channel", "")).split(",")
        if bridge is None or not all(c in self.channels for c in channel_ids):
            return HttpResponse.of_json(404, {"message": "Bridge or channel not found"})
        members: list[str] = bridge["channels"]
        adding = m[2] == "addChannel"
        for channel_id in channel_ids:
            members.append(channel_id) if adding else members.remove(channel_id)
            event = "ChannelEnteredBridge" if adding else "ChannelLeftBridge"
            self.emit(event, bridge=bridge, channel=self.channels[channel_id])
        return HttpResponse(204)

    async def _stored_file(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        data = self.stored_files.get(m[1])
        if data is None:
            return HttpResponse.of_json(404, {"message": "Recording not found"})
        return HttpResponse(200, data, content_type="audio/wav")

    async def _delete_stored(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        if self.stored_files.pop(m[1], None) is None:
            return HttpResponse.of_json(404, {"message": "Recording not found"})
        return HttpResponse(204)

    async def _info(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return HttpResponse.of_json(
            200, {"system": {"version": "22.0.0-fake", "entity_id": "fake"}}
        )

    async def _ping(self, request: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return HttpResponse.of_json(
            200, {"asterisk_id": "fake", "ping": "pong", "timestamp": now_iso()}
        )


def _rest_response(request: dict[str, Any], status: int, reason: str) -> dict[str, Any]:
    """A RESTResponse frame as Asterisk 22 sends it (without a body)."""
    return {
        "type": "RESTResponse",
        "transaction_id": request.get("transaction_id", ""),
        "request_id": request.get("request_id", ""),
        "status_code": status,
        "reason_phrase": reason,
        "uri": request.get("uri", ""),
        "application": request.get("application", ""),
        "timestamp": now_iso(),
    }


def _channel_not_found() -> HttpResponse:
    return HttpResponse.of_json(404, {"message": "Channel not found"})


async def _serve_forever(args: argparse.Namespace) -> None:
    fake = FakeAri(app=args.app, replay_on_connect=args.replay, replay_rate=args.rate)
    await fake.start(args.port)
    print(json.dumps({"port": fake.port, "app": fake.app}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main() -> None:
    """Run the fake as a process (benchmarks): prints its port as JSON, serves until killed."""
    parser = argparse.ArgumentParser(description="fake ARI server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app", default="zentrale-bench")
    parser.add_argument("--replay", type=Path, help="JSON-lines events sent on each connect")
    parser.add_argument("--rate", type=float, default=None, help="events per second")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(parser.parse_args()))


if __name__ == "__main__":
    main()
