"""Legal holds: add, list and release them, and tell what they cover.

A hold covers a call, a recording, every call with a phone number (as caller, dialled or
called number), or every call of a department. `Holds` is a snapshot of the active holds
that purge and erasure consult for each item; adding and releasing write audit entries in
the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from zentrale.base.clock import Clock, utcnow
from zentrale.base.errors import InvalidRequestError, ZentraleError
from zentrale.calls.models import Call
from zentrale.config.logging import mask_number
from zentrale.core import audit
from zentrale.db.session import Database
from zentrale.privacy.models import HoldScope, LegalHold
from zentrale.recording.models import Recording


class HoldNotFoundError(ZentraleError, LookupError):
    """No active hold has this id."""

    code = "hold-not-found"


@dataclass(frozen=True, slots=True)
class Holds:
    """The active holds at one moment, indexed by scope and value."""

    rows: tuple[LegalHold, ...]

    def covering(self, call: Call | None, recording: Recording | None = None) -> list[LegalHold]:
        """Return the holds covering CALL and (if given) RECORDING."""
        wanted: set[tuple[HoldScope, str]] = set()
        if call is not None:
            wanted.add((HoldScope.CALL, call.id))
            numbers = (call.caller_number, call.dialled_number, call.called_number)
            wanted.update((HoldScope.NUMBER, number) for number in numbers if number)
            if call.department:
                wanted.add((HoldScope.DEPARTMENT, call.department))
        if recording is not None:
            wanted.add((HoldScope.RECORDING, recording.id))
            wanted.add((HoldScope.CALL, recording.call_id))
            if recording.department:
                wanted.add((HoldScope.DEPARTMENT, recording.department))
        return [row for row in self.rows if (row.scope, row.value) in wanted]

    def on_numbers(self, numbers: Iterable[str]) -> list[LegalHold]:
        """Return the holds on any of NUMBERS."""
        wanted = set(numbers)
        return [r for r in self.rows if r.scope is HoldScope.NUMBER and r.value in wanted]


def shown_value(hold: LegalHold) -> str:
    """Return the hold's value as logs and audit entries may show it (numbers masked)."""
    return mask_number(hold.value) if hold.scope is HoldScope.NUMBER else hold.value


class HoldRequestError(InvalidRequestError, ValueError):
    """A hold to place or release is missing its value or reason (only blanks)."""

    code = "invalid-hold"


class HoldStore:
    """Legal holds on the metadata database."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def add(self, scope: HoldScope, value: str, reason: str, actor: audit.Actor) -> LegalHold:
        """Place a hold; audited."""
        if not value.strip() or not reason.strip():
            blank = "value" if not value.strip() else "reason"
            raise HoldRequestError(f"a hold needs a {blank} that is not blank")
        now = self._clock()
        row = LegalHold(
            id=str(uuid.uuid4()),
            scope=scope,
            value=value.strip(),
            reason=reason.strip(),
            created_by=actor.name,
            created_at=now,
        )
        event = audit.Event(
            "hold.add",
            target=f"hold:{row.id}",
            reason=row.reason,
            detail={"scope": scope.value, "value": shown_value(row)},
        )
        async with self._db.write() as session:
            session.add(row)
            await audit.append(session, actor, event, now)
        return row

    async def release(self, hold_id: str, reason: str, actor: audit.Actor) -> LegalHold:
        """Release an active hold; audited. Raise HoldNotFoundError if there is none."""
        if not reason.strip():
            raise HoldRequestError("releasing a hold needs a reason that is not blank")
        now = self._clock()
        async with self._db.write() as session:
            row = await session.get(LegalHold, hold_id)
            if row is None or row.released_at is not None:
                raise HoldNotFoundError(f"no active legal hold {hold_id}")
            row.released_at, row.released_by = now, actor.name
            row.release_reason = reason.strip()
            detail = {"scope": row.scope.value, "value": shown_value(row)}
            event = audit.Event(
                "hold.release", target=f"hold:{row.id}", reason=row.release_reason, detail=detail
            )
            await audit.append(session, actor, event, now)
        return row

    async def list(self, include_released: bool = False) -> list[LegalHold]:
        """Return the holds, oldest first (active only unless INCLUDE_RELEASED)."""
        query = select(LegalHold).order_by(LegalHold.created_at, LegalHold.id)
        if not include_released:
            query = query.where(LegalHold.released_at.is_(None))
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def active(self) -> Holds:
        """Return a snapshot of the active holds."""
        return Holds(tuple(await self.list()))
