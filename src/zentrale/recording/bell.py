"""`JobBell`: wakes an idle pipeline worker of this process as soon as there is work for it.

Whoever queues a job in this process rings the bell once the job is committed (the journal's
transaction, a requeue, a lease the reaper released), and a failed job's retry rings it when its
`next_attempt_at` comes due. A ring wakes ONE waiting worker; with none waiting it is kept, and
the next worker to wait returns at once (one ring kept per ring: several jobs queued while every
worker was busy are each claimed, without an empty claim after every job).
Workers therefore ask the database only when rung, and otherwise every `poll` seconds as a
fallback: jobs queued by another node or process, and retries another node scheduled.
"""

from __future__ import annotations

import asyncio
from collections import deque

DUE_MARGIN = 0.01
"""Seconds a due ring waits past the retry's time, so the claim surely sees the job due."""


class JobBell:
    """Rings for idle workers: one per job queued here, and at each retry's due time."""

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._kept = 0
        """Rings nobody waited for, each kept for the next wait."""
        self._timers: set[asyncio.TimerHandle] = set()
        self.rings = 0
        """Rings so far (for tests and status)."""

    def ring(self) -> None:
        """Wake one idle worker (with none waiting, the next one that waits)."""
        self.rings += 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._kept += 1

    def wake_all(self) -> None:
        """Wake every waiting worker (the pool is stopping)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def due_in(self, seconds: float) -> None:
        """Ring once SECONDS from now (a retry's backoff ends then)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.ring()

        handle = loop.call_later(max(0.0, seconds) + DUE_MARGIN, fire)
        self._timers.add(handle)

    @property
    def pending_timers(self) -> int:
        """Return how many due rings are still to come."""
        return len(self._timers)

    def cancel_timers(self) -> None:
        """Forget the due rings still to come (the pool stopped; the next start polls)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    async def wait(self, seconds: float) -> bool:
        """Wait for a ring, at most SECONDS; tell whether it rang."""
        if self._kept:
            self._kept -= 1
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), seconds)
        except TimeoutError:
            pass
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        rang = waiter.done() and not waiter.cancelled()
        if not waiter.done():
            waiter.cancel()
        return rang
