"""What a call and the awaitable primitives use of the ARI client, as a protocol.

`Call` and `primitives` are handed the client (`AriClient` satisfies this protocol) but never
import it: the client imports them to start call flows, so they depend on this narrow view
instead, and the modules of the package form no import cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from zentrale.telephony.ari.dispatch import Dispatcher
from zentrale.telephony.ari.resources import Bridges, Channels, Playbacks, Recordings
from zentrale.telephony.ari.subscriptions import Predicate, Subscription
from zentrale.telephony.ari.traffic import TrafficTotals


class AriPort(Protocol):
    """The client's resources, its dispatcher, event subscriptions and background tasks."""

    channels: Channels
    bridges: Bridges
    playbacks: Playbacks
    recordings: Recordings
    dispatcher: Dispatcher
    traffic: TrafficTotals

    def subscribe(
        self, key: str, predicate: Predicate, ends_on: frozenset[str] | None = None
    ) -> Subscription:
        """Buffer the events of KEY matching PREDICATE for a waiter."""
        ...

    def spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        """Run a background coroutine owned by the client."""
        ...
