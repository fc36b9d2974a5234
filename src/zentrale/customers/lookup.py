"""Who is calling: the customer record of a caller, looked up when the call arrives.

The call flow asks before routing; the answer feeds `CallFacts.customer` (VIP flag, language,
customer number). A lookup never holds up or fails a call: a withheld or national number is
not looked up, and a database error or a lookup slower than the time limit means "unknown
caller", logged with the reason (never the number).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from zentrale.customers import store
from zentrale.customers.numbers import caller_key
from zentrale.db.session import Database

log = structlog.get_logger(__name__)

TIME_LIMIT = 0.2
"""Seconds a lookup may take before the call goes on as from an unknown caller."""


class CustomerLookup:
    """Look callers up in the customer records, within a time limit."""

    def __init__(self, db: Database, time_limit: float = TIME_LIMIT) -> None:
        self._db = db
        self.time_limit = time_limit

    async def __call__(self, caller: str | None) -> Mapping[str, str]:
        """Return the routing facts of CALLER's record; empty for an unknown caller."""
        key = caller_key(caller)
        if key is None:
            return {}
        try:
            async with asyncio.timeout(self.time_limit):
                found = await self._find(key)
        except TimeoutError:
            log.warning("customer.lookup_slow", limit_s=self.time_limit)
            return {}
        except Exception as exc:  # any failure: the call goes on as from an unknown caller
            log.warning("customer.lookup_failed", error=type(exc).__name__)
            return {}
        if found is None:  # most callers of a busy line: not worth a line each
            log.debug("customer.lookup", known=False)
        else:
            log.info("customer.lookup", known=True, vip=found.get("vip"))
        return found or {}

    async def _find(self, number: str) -> dict[str, str] | None:
        async with self._db.read() as session:
            return await store.facts_for(session, number)


async def nobody(_caller: str | None) -> Mapping[str, str]:
    """A lookup that knows no customer (call flows without customer records)."""
    return {}
