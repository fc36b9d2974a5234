"""Dispatch: per-key ordered lanes, each with its own worker task, fed by the never-blocking reader.

Events of one channel (or bridge, endpoint, ...) run through its handlers in arrival order while
different calls run in parallel; a slow handler delays only its own lane. A lane's worker is
created on the first event for the key and retired after ChannelDestroyed/BridgeDestroyed or
after being idle. Queue depth and handler lag (frame received to handler start) are measured.
An event Asterisk delivers twice (through two of the app's subscriptions, see ``repeats``) is
dropped before any handler or waiter sees it.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import structlog
from pydantic import ValidationError

from zentrale.telephony.ari.errors import AriError, ChannelGoneError, ClientClosedError
from zentrale.telephony.ari.events import (
    CHANNEL_GONE_TYPES,
    EVENT_MODELS,
    FINAL_TYPES,
    AriEvent,
    Envelope,
    count_unknown_fields,
)
from zentrale.telephony.ari.repeats import RepeatFilter
from zentrale.telephony.ari.subscriptions import Predicate, Subscription

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=AriEvent)
Handler = Callable[[AriEvent], Awaitable[None]]
_GONE_MEMORY = 4096


@dataclass(frozen=True)
class DispatchStats:
    """A snapshot of dispatch metrics."""

    received: int
    repeated: int
    unknown_types: int
    unknown_fields: int
    invalid: int
    handler_errors: int
    lanes: int
    queue_depth: int
    max_queue_depth: int
    lag_p50: float
    lag_p99: float
    lag_max: float


class LagSamples:
    """Ring buffer of recent handler lags (seconds) for percentiles.

    The buffer is a C array of doubles allocated whole at the start (64 KiB for 8,192
    samples): a list of floats would grow by a new float object per event until full (256 KiB,
    several hundred calls on a busy node), which looks like a leak in a soak's RSS figures.
    """

    def __init__(self, size: int = 8192) -> None:
        self._samples = array("d", bytes(8 * size))
        self._size = size
        self._count = 0
        self._next = 0
        self.max = 0.0

    def add(self, value: float) -> None:
        """Record one lag sample."""
        self._samples[self._next] = value
        self._next = (self._next + 1) % self._size
        self._count = min(self._count + 1, self._size)
        self.max = max(self.max, value)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) of the recent samples, 0 when empty."""
        if not self._count:
            return 0.0
        ordered = sorted(self._samples[: self._count])
        return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]

    def clear(self) -> None:
        """Forget all samples."""
        self._count = 0
        self._next = 0
        self.max = 0.0


class _Lane:
    __slots__ = ("closing", "key", "last_active", "queue", "task", "waiter")

    def __init__(self, key: str) -> None:
        self.key = key
        self.queue: deque[Envelope] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self.last_active = time.perf_counter()

    def wake(self) -> None:
        if self.waiter is not None:
            _resolve(self.waiter)

    def idle(self) -> bool:
        return not self.queue and self.waiter is not None


class Dispatcher:
    """Routes envelopes to subscriptions (immediately) and to per-key ordered handler lanes."""

    def __init__(self, idle_timeout: float = 30.0) -> None:
        self._idle_timeout = idle_timeout
        self._handlers: dict[str, list[Handler]] = {}
        self._any: list[Handler] = []
        self._raw: list[Callable[[Envelope], Awaitable[None]]] = []
        self._receive_hooks: dict[str, list[Callable[[Envelope], None]]] = {}
        self._lanes: dict[str, _Lane] = {}
        self._subs: dict[str, set[Subscription]] = {}
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._repeats = RepeatFilter()
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        self.lag = LagSamples()
        self.lag_observers: list[Callable[[float], None]] = []
        """Called with every handler lag (metrics: the event-lag histogram)."""
        self._depth = 0  # queued or being handled
        self._drained: asyncio.Future[None] | None = None
        self._max_depth = 0
        self._counts = dict.fromkeys(
            (
                "received",
                "repeated",
                "unknown_types",
                "unknown_fields",
                "invalid",
                "handler_errors",
            ),
            0,
        )

    def on(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        """Run ``handler`` for every event of ``event_type``, in its key's order."""
        self._handlers.setdefault(event_type.event_type, []).append(cast(Handler, handler))

    def on_any(self, handler: Handler) -> None:
        """Run ``handler`` for every event, including unknown types (as ``AriEvent``)."""
        self._any.append(handler)

    def on_raw(self, handler: Callable[[Envelope], Awaitable[None]]) -> None:
        """Run ``handler`` with every raw envelope (no validation: the fast path)."""
        self._raw.append(handler)

    def on_receive(self, event_type: str, hook: Callable[[Envelope], None]) -> None:
        """Call ``hook`` synchronously in the reader as an event of the type arrives.

        For work that must happen before later events are read (a new call's DTMF buffer);
        the hook must be quick and must not block.
        """
        self._receive_hooks.setdefault(event_type, []).append(hook)

    def submit(self, envelope: Envelope) -> None:
        """Accept one event from the reader; never blocks, never raises for bad events."""
        if self._closed:
            return
        self._counts["received"] += 1
        if self._repeats.repeated(envelope):
            self._counts["repeated"] += 1
            return
        if envelope.type not in EVENT_MODELS:
            self._counts["unknown_types"] += 1
        if envelope.type == "StasisStart":
            self._forget_left(envelope.key)
        hooks = self._receive_hooks.get(envelope.type)
        if hooks:
            self._run_hooks(hooks, envelope)
        subs = self._subs.get(envelope.key)
        if subs:
            for sub in tuple(subs):
                sub.offer(envelope)
        if envelope.type in CHANNEL_GONE_TYPES and envelope.key.startswith("channel:"):
            self._remember_gone(envelope.key, envelope.type)
        self._enqueue(envelope)

    def _run_hooks(self, hooks: list[Callable[[Envelope], None]], envelope: Envelope) -> None:
        for hook in hooks:
            try:
                hook(envelope)
            except Exception:
                self._counts["handler_errors"] += 1
                log.exception("ari.receive_hook.failed", event_type=envelope.type)

    def subscribe(
        self, key: str, predicate: Predicate, ends_on: frozenset[str] = CHANNEL_GONE_TYPES
    ) -> Subscription:
        """Start buffering events of ``key`` that match ``predicate`` (until ``ends_on``)."""
        sub = Subscription(key, predicate, self._unsubscribe, ends_on)
        if self._closed:
            sub.fail(ClientClosedError("ARI client closed"))
        elif key in self._gone:
            sub.fail(ChannelGoneError(key.removeprefix("channel:"), self._gone[key]))
        else:
            self._subs.setdefault(key, set()).add(sub)
        return sub

    def mark_gone(self, key: str, reason: str) -> None:
        """Declare a key's channel gone (e.g. missing at resync); its waiters end."""
        self._remember_gone(key, reason)
        for sub in tuple(self._subs.get(key, ())):
            sub.fail(ChannelGoneError(key.removeprefix("channel:"), reason))

    def is_gone(self, key: str) -> bool:
        """Whether the channel of ``key`` is known to have gone."""
        return key in self._gone

    def hung_up(self, key: str) -> bool:
        """Whether the channel of ``key`` is known to be hung up (not merely out of Stasis)."""
        return self._gone.get(key) in _HANGUP_TYPES

    def watched_keys(self) -> set[str]:
        """Keys that have live subscriptions (resync checks they still exist)."""
        return {key for key, subs in self._subs.items() if subs}

    def stats(self) -> DispatchStats:
        """Current metrics."""
        return DispatchStats(
            **self._counts,
            lanes=len(self._lanes),
            queue_depth=self._depth,
            max_queue_depth=self._max_depth,
            lag_p50=self.lag.percentile(50),
            lag_p99=self.lag.percentile(99),
            lag_max=self.lag.max,
        )

    def start(self) -> None:
        """Start the idle-lane sweeper."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def drain(self) -> None:
        """Wait until every queued event has been handled (tests, benchmarks, shutdown)."""
        while self._depth:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    async def close(self) -> None:
        """Stop all workers and end all subscriptions."""
        self._closed = True
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()
        self._fail_all(ClientClosedError("ARI client closed"))

    def _enqueue(self, envelope: Envelope) -> None:
        lane = self._lanes.get(envelope.key)
        if lane is None:
            lane = self._open_lane(envelope.key)
        lane.queue.append(envelope)
        lane.last_active = envelope.received
        self._depth += 1
        if self._depth > self._max_depth:
            self._max_depth = self._depth
        lane.wake()

    def _open_lane(self, key: str) -> _Lane:
        lane = _Lane(key)
        self._lanes[key] = lane
        lane.task = asyncio.get_running_loop().create_task(self._work(lane), name=f"ari-lane:{key}")
        return lane

    async def _work(self, lane: _Lane) -> None:
        _bind_key(lane.key)
        loop = asyncio.get_running_loop()
        queue = lane.queue
        while True:
            while queue:
                envelope = queue.popleft()
                await self._deliver(envelope)
                self._depth -= 1
                if not self._depth and self._drained is not None:
                    _resolve(self._drained)
                if envelope.type in FINAL_TYPES and not queue:
                    self._retire(lane)
            if lane.closing:
                return
            lane.waiter = loop.create_future()
            await lane.waiter
            lane.waiter = None

    async def _deliver(self, envelope: Envelope) -> None:
        lag = time.perf_counter() - envelope.received
        self.lag.add(lag)
        for observe in self.lag_observers:
            observe(lag)
        for raw_handler in self._raw:
            await self._call_raw(raw_handler, envelope)
        handlers = self._handlers.get(envelope.type, ())
        if not handlers and not self._any:
            return
        event = self._typed(envelope)
        if event is None:
            return
        for handler in (*handlers, *self._any):
            await self._call(handler, event)

    def _typed(self, envelope: Envelope) -> AriEvent | None:
        try:
            event = envelope.event
        except ValidationError as exc:
            self._counts["invalid"] += 1
            log.warning("ari.event.invalid", event_type=envelope.type, errors=exc.error_count())
            return None
        self._counts["unknown_fields"] += count_unknown_fields(event)
        return event

    async def _call(self, handler: Handler, event: AriEvent) -> None:
        try:
            await handler(event)
        except ChannelGoneError as exc:
            log.debug("ari.handler.channel_gone", reason=exc.reason)
        except Exception:
            self._counts["handler_errors"] += 1
            log.exception("ari.handler.failed", event_type=event.type)

    async def _call_raw(
        self, handler: Callable[[Envelope], Awaitable[None]], envelope: Envelope
    ) -> None:
        try:
            await handler(envelope)
        except Exception:
            self._counts["handler_errors"] += 1
            log.exception("ari.raw_handler.failed", event_type=envelope.type)

    def _retire(self, lane: _Lane) -> None:
        lane.closing = True
        if self._lanes.get(lane.key) is lane:
            del self._lanes[lane.key]

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._idle_timeout / 2)
            now = time.perf_counter()
            for lane in tuple(self._lanes.values()):
                if lane.idle() and now - lane.last_active > self._idle_timeout:
                    self._retire(lane)
                    lane.wake()

    def _forget_left(self, key: str) -> None:
        # A channel that only left the app (StasisEnd, e.g. sent back to the dialplan) may
        # re-enter it. One that hung up stays gone: a dialplan whose h extension runs
        # Stasis() again sends a second StasisStart for it, which must not start a new call.
        if self._gone.get(key) == "StasisEnd":
            del self._gone[key]

    def _remember_gone(self, key: str, reason: str) -> None:
        if self._gone.get(key, "StasisEnd") != "StasisEnd":
            return  # keep the first real reason (hangup) over a later StasisEnd
        self._gone[key] = reason
        if len(self._gone) > _GONE_MEMORY:
            self._gone.popitem(last=False)

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]

    def _fail_all(self, error: AriError) -> None:
        for subs in tuple(self._subs.values()):
            for sub in tuple(subs):
                sub.fail(error)


def _bind_key(key: str) -> None:
    # Each lane is its own task with a copied context, so this binding stays in the lane.
    if key.startswith("channel:"):
        structlog.contextvars.bind_contextvars(channel_id=key[8:])
    else:
        structlog.contextvars.bind_contextvars(ari_key=key)


_HANGUP_TYPES = frozenset({"ChannelHangupRequest", "ChannelDestroyed"})


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
