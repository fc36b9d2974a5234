"""Screen pops: what an agent's workspace shows the moment a call rings their phone.

The inbound flow offers a `Pop` (caller, customer facts, the IVR path with its digits, the
queue wait) to the agent's endpoint just before ringing it; every open workspace of that agent
(a server-sent event stream, `api.routes_agent`) receives it at once, without polling. While the
phone rings the hub keeps the pop, so a workspace that (re)connects during the ring gets it
too (an event stream reconnects now and then); once ringing ends the pop is withdrawn and the
hub keeps no history. Digits of sensitive menus never enter a pop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 16
"""Pops a slow workspace may fall behind by; older ones are dropped first."""


@dataclass(frozen=True)
class MenuStep:
    """One menu the caller went through, and what they keyed (None: nothing, or hidden)."""

    menu: str
    digits: str | None
    sensitive: bool = False


@dataclass(frozen=True)
class Pop:
    """A call ringing an agent, as their workspace shows it."""

    call_id: str
    endpoint: str
    caller: str
    dialled: str
    department: str
    customer: Mapping[str, str] = field(default_factory=dict)
    path: tuple[MenuStep, ...] = ()
    waited_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """Return the pop as the event stream sends it (digits of sensitive menus masked)."""
        return {
            "type": "ringing",
            "call_id": self.call_id,
            "caller": self.caller,
            "dialled": self.dialled,
            "department": self.department,
            "customer": dict(self.customer),
            "path": [
                {"menu": step.menu, "digits": "***" if step.sensitive else step.digits}
                for step in self.path
            ],
            "waited_s": round(self.waited_s, 1),
        }


class ScreenPops:
    """In-process hub: pops offered for an endpoint reach every workspace following it."""

    def __init__(self) -> None:
        self._followers: dict[str, set[asyncio.Queue[Pop]]] = {}
        self._ringing: dict[str, Pop] = {}
        self._listeners: list[Callable[[Pop], None]] = []

    def on_offer(self, listener: Callable[[Pop], None]) -> None:
        """Call LISTENER with every pop offered (several nodes: it is sent to the others)."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def follow(self, endpoint: str) -> Iterator[asyncio.Queue[Pop]]:
        """Receive ENDPOINT's pops in a queue for as long as the block runs (first the pop of
        a call ringing the endpoint right now, if any)."""
        queue: asyncio.Queue[Pop] = asyncio.Queue(QUEUE_SIZE)
        if endpoint in self._ringing:
            queue.put_nowait(self._ringing[endpoint])
        self._followers.setdefault(endpoint, set()).add(queue)
        try:
            yield queue
        finally:
            followers = self._followers.get(endpoint, set())
            followers.discard(queue)
            if not followers:
                self._followers.pop(endpoint, None)

    def offer(self, pop: Pop) -> int:
        """Hand POP to every workspace of its endpoint; return how many got it."""
        self._ringing[pop.endpoint] = pop
        for listener in self._listeners:
            listener(pop)
        followers = self._followers.get(pop.endpoint, set())
        for queue in followers:
            if queue.full():
                queue.get_nowait()  # a stalled workspace loses its oldest pop, not the new one
            queue.put_nowait(pop)
        return len(followers)

    def withdraw(self, endpoint: str, call_id: str) -> None:
        """The call CALL_ID stopped ringing ENDPOINT (answered or not): forget its pop."""
        if (pop := self._ringing.get(endpoint)) is not None and pop.call_id == call_id:
            del self._ringing[endpoint]

    def ringing(self, endpoint: str) -> Pop | None:
        """Return the pop of the call ringing ENDPOINT right now, if any."""
        return self._ringing.get(endpoint)

    def following(self, endpoint: str) -> int:
        """Return how many workspaces follow ENDPOINT now."""
        return len(self._followers.get(endpoint, ()))
