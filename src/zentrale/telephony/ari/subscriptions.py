"""Subscriptions: the reader feeds matching events of one key straight into a waiting primitive.

They bypass the per-channel worker queue on purpose: a call flow that runs inside a handler of
channel X and waits for X's next DTMF would otherwise wait for its own worker (deadlock). When
the channel goes away (StasisEnd, ChannelHangupRequest, ChannelDestroyed, or missing at a
resync) every subscription on it ends with ``ChannelGoneError``; one made with ``ends_on``
lasts until the event types named there (the hangup cause waits for ChannelDestroyed).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from pydantic import ValidationError

from zentrale.telephony.ari.errors import AriError, ChannelGoneError
from zentrale.telephony.ari.events import CHANNEL_GONE_TYPES, AriEvent, Envelope

if TYPE_CHECKING:
    from types import TracebackType

log = structlog.get_logger(__name__)

Predicate = Callable[[AriEvent], bool]


class Subscription:
    """Buffered events of one key that match a predicate; ``get`` awaits the next one."""

    def __init__(
        self,
        key: str,
        predicate: Predicate,
        on_close: Callable[[Subscription], None],
        ends_on: frozenset[str] = CHANNEL_GONE_TYPES,
    ):
        self.key = key
        self._ends_on = ends_on
        self._predicate = predicate
        self._on_close = on_close
        self._items: deque[AriEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: AriError | None = None
        self.offered = 0
        """Events of the key seen while subscribed (matching or not): ARI traffic figures."""

    def offer(self, envelope: Envelope) -> None:
        """Take an event from the reader if it matches; never blocks."""
        self.offered += 1
        try:
            matched = self._predicate(envelope.event)
        except (ValidationError, LookupError, AttributeError, TypeError, ValueError):
            log.warning("ari.subscription.predicate_failed", event_type=envelope.type)
            matched = False
        if matched:
            self._items.append(envelope.event)
        if envelope.type in self._ends_on and self.key.startswith("channel:"):
            self.fail(ChannelGoneError(self.key[8:], envelope.type))
        self._wake()

    def fail(self, error: AriError) -> None:
        """End the subscription: ``get`` raises ``error`` once buffered events are taken."""
        if self._error is None:
            self._error = error
        self._wake()

    async def get(self, max_wait: float | None = None) -> AriEvent:
        """Next matching event; raise ``TimeoutError`` or the error that ended it."""
        async with asyncio.timeout(max_wait):
            while True:
                if self._items:
                    return self._items.popleft()
                if self._error is not None:
                    raise self._error
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None

    def pending(self) -> int:
        """Number of buffered events not taken yet."""
        return len(self._items)

    def close(self) -> None:
        """Stop receiving events."""
        self._on_close(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
