"""``AriClient``: REST resources, the supervised event WebSocket, dispatch and resync in one object.

The daemon's lifespan opens it (``async with AriClient(...)``), registers handlers and call
flows, and closes it on shutdown. After every (re)connect it resyncs: Asterisk queues nothing
while we are away and sends no new StasisStart, so the channels and bridges our app still holds
are fetched and reported to ``on_resync``; channels our flows wait on that vanished meanwhile
are declared gone so their waiters end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import httpx
import structlog

from zentrale.telephony.ari.calls import CallFlow, serve_calls, start_call
from zentrale.telephony.ari.config import AriOptions, CredentialsLike, reload_password
from zentrale.telephony.ari.connection import ConnectionState, EventConnection
from zentrale.telephony.ari.dispatch import Dispatcher, DispatchStats, Handler
from zentrale.telephony.ari.errors import AriError, AriNotFoundError
from zentrale.telephony.ari.events import AriEvent, Envelope
from zentrale.telephony.ari.models import Application, Bridge, Channel
from zentrale.telephony.ari.resources import (
    Applications,
    AsteriskApi,
    Bridges,
    Channels,
    Endpoints,
    Playbacks,
    Recordings,
)
from zentrale.telephony.ari.rest import AriRest
from zentrale.telephony.ari.subscriptions import Predicate, Subscription
from zentrale.telephony.ari.traffic import TrafficTotals

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=AriEvent)
ResyncHook = Callable[[list[Channel], list[Bridge]], Awaitable[None]]


class AriClient:
    """Typed, asyncio-native, reconnecting ARI client for one Stasis application."""

    def __init__(
        self,
        credentials: CredentialsLike,
        options: AriOptions | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.app = credentials.app
        self.credentials = credentials
        self.options = options or AriOptions()
        self.rest = AriRest(credentials, self.options, transport)
        self.channels = Channels(self.rest)
        self.bridges = Bridges(self.rest)
        self.playbacks = Playbacks(self.rest)
        self.recordings = Recordings(self.rest)
        self.endpoints = Endpoints(self.rest)
        self.applications = Applications(self.rest)
        self.asterisk = AsteriskApi(self.rest)
        self.dispatcher = Dispatcher(self.options.lane_idle_timeout)
        self.traffic = TrafficTotals()
        """Requests and events of the calls that ended (see ``traffic``)."""
        self._connection = EventConnection(
            credentials=credentials,
            options=self.options,
            on_event=self.dispatcher.submit,
            on_connected=self._schedule_resync,
            ws_rest=self.rest.ws,
        )
        self._resync_hooks: list[ResyncHook] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._resynced = asyncio.Event()
        self._lost: dict[str, None] = {}
        self.dispatcher.on_receive("ChannelHangupRequest", self._note_system_hangup)

    def __repr__(self) -> str:
        return f"AriClient(app={self.app!r}, url={self._connection.url!r})"

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> AriClient:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        """Start the event connection supervisor and the dispatcher."""
        if self._supervisor is None:
            self.dispatcher.start()
            self._supervisor = asyncio.get_running_loop().create_task(
                self._connection.run(), name="ari-ws-supervisor"
            )

    async def close(self) -> None:
        """Stop the connection, the workers, background tasks and the HTTP pool."""
        tasks = [*self._background]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.dispatcher.close()
        await self.rest.aclose()

    def reload_credentials(self) -> bool:
        """Read the password again (SIGHUP); if it changed, reconnect at once when down."""
        changed = reload_password(self.credentials)
        if changed:
            self._connection.wake()
        return changed

    async def wait_connected(self, max_wait: float | None = None) -> None:
        """Wait until the event WebSocket is open."""
        await self._connection.wait_connected(max_wait)

    async def wait_resynced(self, max_wait: float | None = None) -> None:
        """Wait until the resync after the latest connect has run (the app is registered)."""
        async with asyncio.timeout(max_wait):
            await self._resynced.wait()

    async def wait_stopped(self) -> None:
        """Wait until the supervisor stops; raise its error (e.g. ApplicationReplacedError)."""
        if self._supervisor is None:
            raise AriError("client not started")
        await asyncio.shield(self._supervisor)

    @property
    def rest_transport(self) -> str:
        """Where REST requests go now: ``websocket`` or ``http``."""
        return self.rest.transport

    @property
    def state(self) -> ConnectionState:
        """Connection state: connected flag, reconnect count, last error."""
        return self._connection.state

    def dispatch_stats(self) -> DispatchStats:
        """Dispatch metrics: queue depth, lanes, handler lag, unknown events/fields."""
        return self.dispatcher.stats()

    # -- subscriptions -------------------------------------------------------------------
    def on(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        """Run ``handler`` for each event of ``event_type``, ordered per channel/bridge."""
        self.dispatcher.on(event_type, handler)

    def on_any(self, handler: Handler) -> None:
        """Run ``handler`` for every event, unknown types included."""
        self.dispatcher.on_any(handler)

    def on_raw(self, handler: Callable[[Envelope], Awaitable[None]]) -> None:
        """Run ``handler`` with every raw envelope, unvalidated (metrics, archiving)."""
        self.dispatcher.on_raw(handler)

    def on_new_channel(self, flow: CallFlow) -> None:
        """Run ``flow(call)`` as its own task for every channel that enters our app."""
        serve_calls(self, flow)

    def adopt(self, channel: Channel, flow: CallFlow) -> asyncio.Task[None]:
        """Run ``flow`` for a channel found at resync (no StasisStart will come for it).

        Its Stasis arguments are recovered from the dialplan (``Stasis(app,arg1,arg2)``).
        """
        plan = channel.dialplan
        data = plan.app_data if plan is not None and plan.app_name == "Stasis" else ""
        args = data.split(",")[1:] if data else []
        return start_call(self, flow, channel, args, adopted=True)

    def on_resync(self, hook: ResyncHook) -> None:
        """Call ``hook(channels, bridges)`` with what our app holds after each (re)connect."""
        self._resync_hooks.append(hook)

    def subscribe(
        self, key: str, predicate: Predicate, ends_on: frozenset[str] | None = None
    ) -> Subscription:
        """Buffer events of ``key`` (``channel:ID``...) matching ``predicate`` for a waiter.

        It ends when the channel goes (StasisEnd, hangup), or at the event types ``ends_on``.
        """
        if ends_on is None:
            return self.dispatcher.subscribe(key, predicate)
        return self.dispatcher.subscribe(key, predicate, ends_on)

    def spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        """Run a background coroutine owned by the client (cancelled on close)."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- resync --------------------------------------------------------------------------
    def _schedule_resync(self) -> None:
        self._resynced.clear()
        self.spawn(self._resync(), "ari-resync")

    async def _resync(self) -> None:
        try:
            app, all_channels, all_bridges = await self._fetch_all()
        except AriError as exc:
            self.state.last_error = f"resync failed: {exc}"
            log.error("ari.resync.failed", error=str(exc))
            return
        await self._filter_events()
        self._forget_vanished({channel.id for channel in all_channels})
        channels, bridges = _ours(app, all_channels, all_bridges)
        log.info("ari.resync", channels=len(channels), bridges=len(bridges))
        for hook in self._resync_hooks:
            try:
                await hook(channels, bridges)
            except Exception:
                log.exception("ari.resync.hook_failed")
        self._resynced.set()

    async def _filter_events(self) -> None:
        # Events of types nothing reads cost Asterisk JSON and the client decoding; an
        # Asterisk older than 16.3 has no filter (404) and sends them: harmless, just more.
        # Sent even when empty: Asterisk keeps an app's filter across its connections.
        try:
            await self.applications.filter_events(self.app, self.options.ignored_events)
        except AriError as exc:
            log.info("ari.event_filter_unsupported", error=str(exc))
            self.state.event_filter = False
        else:
            self.state.event_filter = True

    async def snapshot(self) -> tuple[list[Channel], list[Bridge]]:
        """Channels and bridges our application currently holds."""
        return _ours(*await self._fetch_all())

    async def _fetch_all(self) -> tuple[Application, list[Channel], list[Bridge]]:
        app = await self._registered_app()
        channels, bridges = await asyncio.gather(self.channels.list(), self.bridges.list())
        return app, channels, bridges

    async def _registered_app(self, attempts: int = 100) -> Application:
        # Asterisk registers the app a moment after the WebSocket handshake; until then
        # GET /applications/{app} is 404 (and Stasis() in the dialplan would fail).
        for _ in range(attempts - 1):
            try:
                return await self.applications.get(self.app)
            except AriNotFoundError:
                await asyncio.sleep(0.02)
        return await self.applications.get(self.app)

    def hung_up(self, channel_id: str) -> bool:
        """Tell whether CHANNEL_ID is known to be hung up (a DELETE of it would be a 404)."""
        return self.dispatcher.hung_up(f"channel:{channel_id}")

    def lost(self, channel_id: str) -> bool:
        """Tell whether CHANNEL_ID was ended by Asterisk itself: it vanished while we were
        disconnected, or was hung up softly for another cause than normal clearing (shutdown).

        A call flow uses it to tell a call Asterisk dropped from a caller who hung up.
        """
        return channel_id in self._lost

    def _note_system_hangup(self, envelope: Envelope) -> None:
        # Asterisk shutting down (or an operator's `channel request hangup`) asks channels to
        # hang up softly with a cause other than normal clearing; callers and our own DELETEs
        # give normal clearing (16).
        raw = envelope.raw
        if raw.get("soft") is True and raw.get("cause") != _NORMAL_CLEARING:
            channel = raw.get("channel")
            if isinstance(channel, dict) and isinstance(channel.get("id"), str):
                self._remember_lost(channel["id"])

    def _remember_lost(self, channel_id: str) -> None:
        self._lost[channel_id] = None
        while len(self._lost) > _LOST_KEPT:
            del self._lost[next(iter(self._lost))]

    def _forget_vanished(self, present: set[str]) -> None:
        # Events of channels that hung up while we were disconnected were dropped by Asterisk;
        # compare with all channels, since an originated one may not have entered Stasis yet.
        for key in self.dispatcher.watched_keys():
            if key.startswith("channel:") and key[8:] not in present:
                self._remember_lost(key[8:])
                self.dispatcher.mark_gone(key, "vanished while disconnected")


_NORMAL_CLEARING = 16
_LOST_KEPT = 10_000
"""Channel ids remembered as lost (the oldest are forgotten first)."""


def _ours(
    app: Application, channels: list[Channel], bridges: list[Bridge]
) -> tuple[list[Channel], list[Bridge]]:
    """Keep the channels and bridges subscribed to our application."""
    channel_ids, bridge_ids = set(app.channel_ids), set(app.bridge_ids)
    return (
        [channel for channel in channels if channel.id in channel_ids],
        [bridge for bridge in bridges if bridge.id in bridge_ids],
    )
