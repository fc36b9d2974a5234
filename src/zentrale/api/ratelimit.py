"""Sign-in rate limiting: failed attempts per account from one address, and per address.

The budget is kept per (account, address) pair and per address, in a sliding minute: someone
guessing a password from one address is stopped, but cannot lock the account's owner out,
who signs in from another address (a per-account budget let anyone lock any account, the
administrator's included, with five wrong passwords a minute). Guessing from many addresses is
bounded by each address's budget, Argon2's cost and the second factor (docs/security.md).

In memory, per process: enough to stop password guessing against one server. Several
servers behind a balancer each keep their own count (documented in docs/qa.md).
`UsedOnce` remembers the sign-in form's nonces, so each form's CSRF token works once.
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
        """Tell whether the account from this address, and the address, have attempts left."""
        return (
            self._recent(_pair(account, address)) < self.per_minute
            and self._recent(f"addr:{address}") < self.per_minute * ADDRESS_FACTOR
        )

    def failed(self, account: str, address: str) -> None:
        """Count one failed attempt against the account from the address, and the address."""
        now = self._clock()
        self._failures[_pair(account, address)].append(now)
        self._failures[f"addr:{address}"].append(now)

    def succeeded(self, account: str, address: str) -> None:
        """Forget the account's failures from this address after a good sign-in."""
        self._failures.pop(_pair(account, address), None)

    def _recent(self, key: str) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        cutoff = self._clock() - WINDOW
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times)


def _pair(account: str, address: str) -> str:
    return f"user:{account.lower()}@{address}"


class UsedOnce:
    """Values (sign-in form nonces) seen in the last LIFETIME; `first` is true only once."""

    def __init__(self, lifetime: dt.timedelta, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._seen: dict[str, dt.datetime] = {}
        self._lifetime = lifetime
        self.configure(clock)

    def configure(self, clock: Callable[[], dt.datetime]) -> None:
        """Set the clock."""
        self._clock = clock

    def first(self, value: str) -> bool:
        """Record VALUE; tell whether it was not used within the lifetime."""
        now = self._clock()
        for old in [v for v, at in self._seen.items() if at <= now - self._lifetime]:
            del self._seen[old]
        if value in self._seen:
            return False
        self._seen[value] = now
        return True
