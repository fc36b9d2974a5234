"""The event WebSocket and its supervisor: connect, read, reconnect with backoff and jitter.

One reader per connection decodes frames and hands them to ``on_event`` without awaiting
anything else (Asterisk disconnects readers that lag its 100 ms write timeout). A clean close is
a disconnect like any other. Pings notice a dead peer within ``ping_interval + ping_timeout``.
ApplicationReplaced (another process registered our app name) stops the supervisor with
``ApplicationReplacedError`` instead of reconnecting into a fight.

The same socket carries REST requests when Asterisk takes them (``wsrest``): with
``rest_transport: auto`` each connect first sends a probe request and reads frames (events go
on as usual) until its answer or ``probe_timeout``; the answer attaches the socket for REST,
silence leaves REST on HTTP. The reader hands RESTResponse frames to ``wsrest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException

from zentrale.telephony.ari.config import (
    AriOptions,
    CredentialsLike,
    basic_auth_header,
    events_url,
    reload_password,
)
from zentrale.telephony.ari.errors import ApplicationReplacedError
from zentrale.telephony.ari.events import Envelope
from zentrale.telephony.ari.wsrest import PROBE_URI, WsRest, request_message

log = structlog.get_logger(__name__)


@dataclass
class ConnectionState:
    """Observable state of the event connection for health checks and metrics."""

    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    bad_frames: int = 0
    last_error: str | None = None
    connected_since: float | None = None
    stopped_error: BaseException | None = None
    rest_transport: str = "http"
    """Where REST requests go: ``websocket`` or ``http`` (chosen at the latest connect)."""
    event_filter: bool | None = None
    """Whether Asterisk took the app's event filter at the latest resync (None: not asked)."""

    @property
    def reconnects(self) -> int:
        """Successful connections after the first one."""
        return max(0, self.connects - 1)


class EventConnection:
    """Supervises the ARI event WebSocket and feeds envelopes to ``on_event``."""

    def __init__(
        self,
        credentials: CredentialsLike,
        options: AriOptions,
        on_event: Callable[[Envelope], None],
        on_connected: Callable[[], None],
        ws_rest: WsRest | None = None,
    ) -> None:
        self.url = events_url(credentials.base_url, credentials.app)
        self.state = ConnectionState()
        self._ws_rest = ws_rest
        if ws_rest is not None and options.rest_transport == "websocket":
            self.state.rest_transport = "websocket"
        self._credentials = credentials
        self._wake = asyncio.Event()
        self._options = options
        self._on_event = on_event
        self._on_connected = on_connected
        self._attempt = 0
        self._connected = asyncio.Event()

    async def wait_connected(self, max_wait: float | None = None) -> None:
        """Wait until the WebSocket is open."""
        async with asyncio.timeout(max_wait):
            await self._connected.wait()

    async def run(self) -> None:
        """Connect and reconnect until cancelled or the app is replaced (then raise)."""
        while True:
            try:
                await self._session()
            except ApplicationReplacedError as exc:
                self.state.stopped_error = exc
                log.error("ari.ws.application_replaced", url=self.url)
                raise
            except (OSError, TimeoutError, WebSocketException) as exc:
                self._record_error(exc)
            await self._pause(self._next_delay())

    def wake(self) -> None:
        """Cut the wait before the next connect short (e.g. new credentials were read)."""
        self._attempt = 0
        self._wake.set()

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _session(self) -> None:
        async with connect(
            self.url,
            additional_headers={"Authorization": basic_auth_header(self._credentials)},
            ping_interval=self._options.ping_interval,
            ping_timeout=self._options.ping_timeout,
            open_timeout=self._options.open_timeout,
            close_timeout=1.0,
            max_size=self._options.max_message_size,
            compression=None,
        ) as ws:
            use_ws = await self._choose_transport(ws)
            self._opened()
            try:
                if use_ws and self._ws_rest is not None:
                    self._ws_rest.attach(ws)
                await self._read(ws)
            finally:
                if self._ws_rest is not None:
                    self._ws_rest.detach(f"WebSocket closed (code {ws.close_code})")
                self._closed(ws)

    async def _choose_transport(self, ws: ClientConnection) -> bool:
        mode = self._options.rest_transport
        if self._ws_rest is None or mode == "http":
            return False
        use_ws = mode == "websocket" or await self._probe(ws)
        transport = "websocket" if use_ws else "http"
        if transport != self.state.rest_transport or not self.state.connects:
            log.info("ari.rest.transport", transport=transport, mode=mode)
        self.state.rest_transport = transport
        return use_ws

    async def _probe(self, ws: ClientConnection) -> bool:
        # Asterisks without REST over WebSocket ignore the frame: no answer means HTTP.
        assert self._ws_rest is not None
        probe_id = "probe-" + self._ws_rest.next_id()
        await ws.send(request_message(probe_id, "GET", PROBE_URI, {}, None), text=True)
        try:
            async with asyncio.timeout(self._options.probe_timeout):
                while True:
                    frame = await ws.recv(decode=False)
                    raw = self._decode(frame)
                    if raw is None:
                        continue
                    if raw.get("type") == "RESTResponse" and raw.get("request_id") == probe_id:
                        return True
                    self._route(raw, time.perf_counter())
        except TimeoutError:
            log.info("ari.rest.probe_unanswered", seconds=self._options.probe_timeout)
            return False

    def _decode(self, frame: bytes | str) -> dict[str, Any] | None:
        try:
            raw = orjson.loads(frame)
        except ValueError:
            self.state.bad_frames += 1
            return None
        if not isinstance(raw, dict):
            self.state.bad_frames += 1
            return None
        return raw

    def _route(self, raw: dict[str, Any], received: float) -> None:
        kind = raw.get("type")
        if kind == "RESTResponse":
            if self._ws_rest is not None:
                self._ws_rest.resolve(raw)
        elif kind == "ApplicationReplaced":
            raise ApplicationReplacedError(
                f"another connection took ARI application {raw.get('application')!r}"
            )
        else:
            self._on_event(Envelope(raw, received))

    async def _read(self, ws: ClientConnection) -> None:
        on_event = self._on_event
        perf = time.perf_counter
        loads = orjson.loads
        recv = ws.recv
        while True:
            # Bytes straight to orjson: it validates UTF-8 itself, so websockets' own decode
            # step is skipped (about a third of the reader's time at high event rates).
            try:
                frame = await recv(decode=False)
            except ConnectionClosedOK:
                return  # a clean close ends the reader like the end of iteration did
            received = perf()
            try:
                raw = loads(frame)
            except ValueError:
                self.state.bad_frames += 1
                continue
            if not isinstance(raw, dict):
                self.state.bad_frames += 1
                continue
            kind = raw.get("type")
            if kind == "RESTResponse" or kind == "ApplicationReplaced":
                self._route(raw, received)
                continue
            on_event(Envelope(raw, received))

    def _opened(self) -> None:
        state = self.state
        state.connected = True
        state.connects += 1
        state.connected_since = time.monotonic()
        self._connected.set()
        log.info("ari.ws.connected", url=self.url, reconnects=state.reconnects)
        self._on_connected()

    def _closed(self, ws: ClientConnection) -> None:
        state = self.state
        lived = time.monotonic() - (state.connected_since or time.monotonic())
        if lived >= self._options.backoff_reset_after:
            self._attempt = 0
        state.connected = False
        state.disconnects += 1
        state.connected_since = None
        self._connected.clear()
        code = ws.close_code
        state.last_error = state.last_error if code is None else f"closed with code {code}"
        log.warning("ari.ws.disconnected", url=self.url, close_code=code)

    def _record_error(self, exc: BaseException) -> None:
        if isinstance(exc, InvalidStatus):
            message = f"handshake rejected: HTTP {exc.response.status_code}"
            if exc.response.status_code == 401 and reload_password(self._credentials):
                self._attempt = 0  # a new password: try it at once
        else:
            message = f"{type(exc).__name__}: {exc}"
        self.state.last_error = message
        log.warning("ari.ws.error", url=self.url, error=message)

    def _next_delay(self) -> float:
        options = self._options
        ceiling = min(options.backoff_max, options.backoff_initial * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 30)
        # Equal jitter: never zero, so a crowd of daemons does not reconnect in lockstep.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto
