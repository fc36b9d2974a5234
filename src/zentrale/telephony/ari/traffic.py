"""ARI traffic per call: the REST requests a call's flow sent and the events of its channel.

A call flow's task (and every task it starts, which copies its context) counts into the
``CallTraffic`` that ``begin`` puts in a context variable; ``AriRest`` calls ``count_request``
for every attempt it sends. When the flow ends, its figures are logged at debug level and
added to the client's ``TrafficTotals``, which benches and metrics read.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class CallTraffic:
    """ARI requests and events of one call."""

    requests: int = 0
    events: int = 0


@dataclass
class TrafficTotals:
    """Sums over the calls that ended: how many, their requests and events."""

    calls: int = 0
    requests: int = 0
    events: int = 0

    def add(self, call: CallTraffic) -> None:
        """Count one ended call."""
        self.calls += 1
        self.requests += call.requests
        self.events += call.events

    def per_call(self) -> tuple[float, float]:
        """Mean requests and events per ended call (0 before the first)."""
        if not self.calls:
            return 0.0, 0.0
        return self.requests / self.calls, self.events / self.calls


_current: ContextVar[CallTraffic | None] = ContextVar("ari_call_traffic", default=None)


def begin() -> CallTraffic:
    """Start counting for the current task's call (and the tasks it starts)."""
    traffic = CallTraffic()
    _current.set(traffic)
    return traffic


def count_request() -> None:
    """Count one REST request for the call of the current context, if any."""
    traffic = _current.get()
    if traffic is not None:
        traffic.requests += 1
