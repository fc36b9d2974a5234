"""The event WebSocket and its supervisor: connect, read, reconnect with backoff and jitter.

One reader per connection decodes frames and hands them to ``on_event`` without awaiting
anything else (Asterisk disconnects readers that lag its 100 ms write timeout). A clean close is
a disconnect like any other. Pings notice a dead peer within ``ping_interval + ping_timeout``.
ApplicationReplaced (another process registered our app name) stops the supervisor with
``ApplicationReplacedError`` instead of reconnecting into a fight.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

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
    ) -> None:
        self.url = events_url(credentials.base_url, credentials.app)
        self.state = ConnectionState()
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
            self._opened()
            try:
                await self._read(ws)
            finally:
                self._closed(ws)

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
            if raw.get("type") == "ApplicationReplaced":
                raise ApplicationReplacedError(
                    f"another connection took ARI application {raw.get('application')!r}"
                )
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
