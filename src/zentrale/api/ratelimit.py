"""Sign-in rate limiting: failed attempts per account and per address in a sliding minute.

In memory, per process: enough to stop password guessing against one server. Several
servers behind a balancer each keep their own count (documented in docs/qa.md).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable

from zentrale.base.clock import utcnow

WINDOW = dt.timedelta(minutes=1)
# An office behind one NAT address shares the per-address budget.
ADDRESS_FACTOR = 4


class LoginLimiter:
    """Counts failed sign-ins; `allowed` says whether another attempt may be tried now."""

    def __init__(self, per_minute: int = 5, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._failures: defaultdict[str, deque[dt.datetime]] = defaultdict(deque)
        self.configure(per_minute, clock)

    def configure(self, per_minute: int, clock: Callable[[], dt.datetime]) -> None:
        """Set the budget per account (addresses get ADDRESS_FACTOR times it) and the clock."""
        self.per_minute = per_minute
        self._clock = clock

    def allowed(self, account: str, address: str) -> bool:
        """Tell whether the account and the address both have attempts left."""
        return (
            self._recent(f"user:{account.lower()}") < self.per_minute
            and self._recent(f"addr:{address}") < self.per_minute * ADDRESS_FACTOR
        )

    def failed(self, account: str, address: str) -> None:
        """Count one failed attempt against the account and the address."""
        now = self._clock()
        self._failures[f"user:{account.lower()}"].append(now)
        self._failures[f"addr:{address}"].append(now)

    def succeeded(self, account: str) -> None:
        """Forget the account's failures after a good sign-in."""
        self._failures.pop(f"user:{account.lower()}", None)

    def _recent(self, key: str) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        cutoff = self._clock() - WINDOW
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times)
