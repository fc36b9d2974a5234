"""Wrap-up of a call and the callbacks promised in it, on zentrale's metadata (v0012).

Each agent who took a call wraps it up once (v0017: after a transfer the agent who handed the
call on and the one who took it over each file their own): the disposition code goes into
`call_wrapups`, one row per (call, agent) (and, with the notes and the suggestion for
management, into `call_notes`, where the customer's history and the statistics read them).
A callback is a row in `callbacks` that the daemon's scheduler (`zentrale.telephony.callbacks`)
claims when it is due, under a lease it renews while it places the call; a callback whose daemon
stopped mid-attempt is `recover`ed once the lease ran out (v0014). The functions take the
caller's session, so a wrap-up, its callback and its audit entry commit together. Which codes
exist and when calling is allowed are the callers' checks (routing rules, calling hours).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.models import Call, CallEvent, EventKind
from zentrale.customers.errors import (
    CallbackNotFoundError,
    InvalidCallbackError,
    NotYourCallError,
    WrapUpDoneError,
)
from zentrale.customers.models import Callback, CallbackState, CallNote, CallWrapUp, NoteKind
from zentrale.customers.store import add_note, customer_side

OPEN_STATES = (CallbackState.SCHEDULED, CallbackState.CALLING)
INTERRUPTED = "interrupted"
"""The result of an attempt whose daemon stopped before it could say how it went."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WrapUp:
    """What the agent wrote at wrap-up (all optional but the author)."""

    disposition: str | None = None
    notes: str | None = None
    suggestion: str | None = None
    callback_at: dt.datetime | None = None
    """When to call the customer back (aware); None: no callback."""


@dataclass(frozen=True, slots=True)
class Taker:
    """The agent who wraps a call up, and the department they talked to the caller in."""

    endpoint: str
    department: str | None


def taker(call: Call, events: Sequence[CallEvent], endpoint: str) -> Taker:
    """Return ENDPOINT as a taker of CALL: its last agent, or one who talked to the caller
    before a transfer (in the department the caller queued for then); else NotYourCallError."""
    if call.agent_endpoint == endpoint:
        return Taker(endpoint, call.department)
    department = None
    for event in events:
        if event.kind == EventKind.QUEUED:
            department = event.detail.get("department")
        elif event.kind == EventKind.AGENT_ANSWERED and event.detail.get("agent") == endpoint:
            return Taker(endpoint, department if isinstance(department, str) else None)
    raise NotYourCallError(f"call {call.id} was not taken by {endpoint}")


async def taker_of(session: AsyncSession, call: Call, endpoint: str) -> Taker:
    """Return ENDPOINT as a taker of CALL (`taker`), reading the timeline only if needed."""
    if call.agent_endpoint == endpoint:
        return taker(call, (), endpoint)
    query = select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.seq)
    return taker(call, list(await session.scalars(query)), endpoint)


@dataclass(frozen=True, slots=True)
class WrapUpRecord:
    """A stored wrap-up with its notes and callbacks."""

    wrapup: CallWrapUp
    notes: list[CallNote]
    callbacks: list[Callback]


async def save(
    session: AsyncSession,
    call: Call,
    wrap: WrapUp,
    author: tuple[str | None, str],
    now: dt.datetime,
    by: Taker | None = None,
) -> WrapUpRecord:
    """Write the wrap-up of CALL by AUTHOR (id, name) for the agent BY (default: the call's last
    agent); WrapUpDoneError when that agent filed one for it already."""
    by = by or Taker(call.agent_endpoint or "", call.department)
    if await session.get(CallWrapUp, (call.id, by.endpoint)) is not None:
        raise WrapUpDoneError(f"call {call.id} is wrapped up by {by.endpoint} already")
    row = CallWrapUp(
        call_id=call.id,
        agent_endpoint=by.endpoint,
        author_id=author[0],
        department=by.department,
        disposition=wrap.disposition,
        created_at=now,
    )
    session.add(row)
    try:
        await session.flush()  # the same agent saving twice at once: the other save came first
    except IntegrityError as exc:
        raise WrapUpDoneError(f"call {call.id} is wrapped up by {by.endpoint} already") from exc
    notes = []
    for kind, text in (
        (NoteKind.DISPOSITION, wrap.disposition),
        (NoteKind.NOTE, wrap.notes),
        (NoteKind.SUGGESTION, wrap.suggestion),
    ):
        if text and text.strip():
            note = await add_note(session, call, kind, text, author, now)
            note.department = by.department  # the taker's, where a transfer moved the call on
            notes.append(note)
    callbacks = []
    if wrap.callback_at is not None:
        callbacks.append(await _schedule(session, call, wrap.callback_at, author[0], now, by))
    await session.flush()
    return WrapUpRecord(row, notes, callbacks)


async def _schedule(
    session: AsyncSession,
    call: Call,
    at: dt.datetime,
    author_id: str | None,
    now: dt.datetime,
    by: Taker,
) -> Callback:
    number = customer_side(call)
    if not number:
        raise InvalidCallbackError("callback: the call has no customer number to call back")
    row = Callback(
        id=str(uuid.uuid4()),
        call_id=call.id,
        number=number,
        department=by.department,
        agent_endpoint=by.endpoint,
        author_id=author_id,
        due_at=at,
        state=CallbackState.SCHEDULED,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    return row


async def of_call(session: AsyncSession, call_id: str) -> list[WrapUpRecord]:
    """Return CALL_ID's wrap-ups, one per agent who filed one, oldest first, each with its notes
    (those its author wrote with it) and its callbacks (those promised to its agent)."""
    query = select(CallWrapUp).where(CallWrapUp.call_id == call_id)
    rows = list(
        await session.scalars(query.order_by(CallWrapUp.created_at, CallWrapUp.agent_endpoint))
    )
    if not rows:
        return []
    notes = list(
        await session.scalars(
            select(CallNote)
            .where(CallNote.call_id == call_id, CallNote.kind.in_(list(NoteKind)))
            .order_by(CallNote.created_at, CallNote.id)
        )
    )
    callbacks = list(
        await session.scalars(
            select(Callback).where(Callback.call_id == call_id).order_by(Callback.due_at)
        )
    )
    return [
        WrapUpRecord(
            row,
            [n for n in notes if (n.author_id, n.created_at) == (row.author_id, row.created_at)],
            [c for c in callbacks if c.agent_endpoint == row.agent_endpoint],
        )
        for row in rows
    ]


def of_agent(records: Sequence[WrapUpRecord], endpoint: str | None) -> WrapUpRecord | None:
    """Return the wrap-up ENDPOINT filed among RECORDS, or None."""
    return next((r for r in records if r.wrapup.agent_endpoint == endpoint), None)


async def callbacks_of(session: AsyncSession, endpoint: str) -> list[Callback]:
    """Return ENDPOINT's open callbacks (scheduled or calling), soonest first."""
    query = select(Callback).where(
        Callback.agent_endpoint == endpoint, Callback.state.in_(OPEN_STATES)
    )
    return list(await session.scalars(query.order_by(Callback.due_at, Callback.id)))


async def cancel(
    session: AsyncSession, callback_id: str, endpoint: str, now: dt.datetime
) -> Callback:
    """Cancel ENDPOINT's scheduled callback; CallbackNotFoundError if there is none such."""
    row = await session.get(Callback, callback_id)
    if row is None or row.agent_endpoint != endpoint or row.state is not CallbackState.SCHEDULED:
        raise CallbackNotFoundError(f"no scheduled callback {callback_id!r} of yours")
    row.state, row.updated_at = CallbackState.CANCELLED, now
    await session.flush()
    return row


async def due(session: AsyncSession, now: dt.datetime, limit: int = 50) -> list[Callback]:
    """Return scheduled callbacks due at NOW, oldest first."""
    query = select(Callback).where(
        Callback.state == CallbackState.SCHEDULED, Callback.due_at <= now
    )
    return list(await session.scalars(query.order_by(Callback.due_at, Callback.id).limit(limit)))


async def claim(
    session: AsyncSession, callback_id: str, now: dt.datetime, *, owner: str, until: dt.datetime
) -> bool:
    """Mark a scheduled callback as calling by OWNER (a daemon) with a lease UNTIL, counting the
    attempt; False when another node (or a cancel) won."""
    result = await session.execute(
        update(Callback)
        .where(Callback.id == callback_id, Callback.state == CallbackState.SCHEDULED)
        .values(
            state=CallbackState.CALLING,
            updated_at=now,
            attempts=Callback.attempts + 1,
            locked_by=owner,
            locked_until=until,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def extend(
    session: AsyncSession, owner: str, callback_ids: Sequence[str], until: dt.datetime
) -> int:
    """Renew OWNER's leases of CALLBACK_IDS (still calling) to UNTIL; return how many it holds."""
    if not callback_ids:
        return 0
    result = await session.execute(
        update(Callback)
        .where(
            Callback.id.in_(callback_ids),
            Callback.state == CallbackState.CALLING,
            Callback.locked_by == owner,
        )
        .values(locked_until=until)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def recover(session: AsyncSession, now: dt.datetime, *, retries: int) -> tuple[int, int]:
    """Put callbacks left calling by a daemon that stopped (their lease ran out before NOW)
    back to scheduled, or to failed when their attempts (counted at the claim) exceed RETRIES;
    return (scheduled again, failed)."""
    expired = (
        Callback.state == CallbackState.CALLING,
        or_(Callback.locked_until.is_(None), Callback.locked_until < now),
    )
    free = {"locked_by": None, "locked_until": None, "result": INTERRUPTED, "updated_at": now}
    failed = await session.execute(
        update(Callback)
        .where(*expired, Callback.attempts > retries)
        .values(state=CallbackState.FAILED, **free)
    )
    again = await session.execute(
        update(Callback)
        .where(*expired, Callback.attempts <= retries)
        .values(state=CallbackState.SCHEDULED, **free)
    )
    return int(again.rowcount), int(failed.rowcount)  # type: ignore[attr-defined]


async def settle(
    session: AsyncSession,
    callback_id: str,
    *,
    owner: str,
    result: str,
    placed_call_id: str | None,
    retry_at: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """Record an attempt's RESULT: done when answered, again at RETRY_AT, else failed. False
    when OWNER no longer holds the callback (its lease ran out and another daemon took it)."""
    if result == "answered":
        state, values = CallbackState.DONE, {}
    elif retry_at is not None:
        state, values = CallbackState.SCHEDULED, {"due_at": retry_at}
    else:
        state, values = CallbackState.FAILED, {}
    done = await session.execute(
        update(Callback)
        .where(
            Callback.id == callback_id,
            Callback.state == CallbackState.CALLING,
            Callback.locked_by == owner,
        )
        .values(
            state=state,
            result=result,
            placed_call_id=placed_call_id,
            updated_at=now,
            locked_by=None,
            locked_until=None,
            **values,
        )
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]
