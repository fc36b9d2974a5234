"""`CallStore`: what the call flows write about a call, and its timeline.

A call flow creates the row when the call arrives, updates it as the call moves through
menus and queues, appends timeline events, and finishes it at hangup. Each method is one
transaction; the module's functions taking a session (`insert_call`, `update_call`,
`append_event`) do the same work inside a caller's transaction, which is how the call journal
writes many records in one (Core statements, no ORM unit of work). Digits a caller types at
a prompt marked sensitive (card numbers, PINs) never reach the database: the event keeps
`"***"` in their place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Float, Integer, and_, bindparam, case, func, insert, null, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Update

from zentrale.base.clock import Clock, utcnow
from zentrale.calls.errors import CallNotFoundError
from zentrale.calls.models import Call, CallEvent, Direction, EventKind, Outcome
from zentrale.db.base import column_values
from zentrale.db.session import Database

log = structlog.get_logger(__name__)

MASK = "***"
MAX_DETAIL_BYTES = 4096
_DIGIT_KEYS = frozenset({"digit", "digits", "dtmf", "input", "entered"})
_KEYPAD = re.compile(r"[0-9*#A-Da-d]+")


@dataclass(frozen=True, slots=True)
class NewCall:
    """The facts known when a call arrives (inbound) or is placed (outbound)."""

    id: str
    direction: Direction
    arrived_at: dt.datetime
    caller_number: str | None = None
    dialled_number: str | None = None
    called_number: str | None = None
    language: str | None = None
    asterisk_node: str | None = None
    app_name: str | None = None
    rules_version: str | None = None


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """Fields a call flow learns later; None leaves a field as it is."""

    department: str | None = None
    agent_endpoint: str | None = None
    agent_name: str | None = None
    language: str | None = None
    answered_by_app_at: dt.datetime | None = None
    queued_at: dt.datetime | None = None
    agent_answered_at: dt.datetime | None = None
    consent_version: str | None = None
    consent_language: str | None = None

    def values(self) -> dict[str, Any]:
        """Return the fields that are set."""
        fields = (f.name for f in dataclasses.fields(self))
        return {name: value for name in fields if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, slots=True)
class Hangup:
    """How a call ended."""

    outcome: Outcome
    ended_at: dt.datetime
    cause_code: int | None = None
    cause_text: str | None = None


class CallStore:
    """Calls and their timelines."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    @property
    def database(self) -> Database:
        """Return the database the store writes to (the journal opens its transactions there)."""
        return self._db

    async def create(self, call: NewCall) -> None:
        """Insert the row of a new call."""
        async with self._db.write() as session:
            await insert_call(session, new_call_values(call))
        log.info("call stored", call_id=call.id, direction=call.direction.value)

    async def update(self, call_id: str, changes: CallUpdate) -> None:
        """Set the fields of CHANGES that are not None."""
        values = changes.values()
        if not values:
            return
        async with self._db.write() as session:
            await update_call(session, call_id, values)

    async def finish(self, call_id: str, hangup: Hangup) -> None:
        """Record the outcome, hangup cause and end time of a call."""
        async with self._db.write() as session:
            await update_call(session, call_id, finish_values(hangup))
        log.info("call finished", call_id=call_id, outcome=hangup.outcome.value)

    async def close_interrupted(
        self,
        node: str,
        app: str,
        *,
        arrived_before: dt.datetime,
        keep: Collection[str] = frozenset(),
    ) -> int:
        """Close the calls NODE's app APP left open (it stopped without ending them), but
        those in KEEP (adopted by the new daemon: they go on) and those that arrived at or
        after ARRIVED_BEFORE (the new daemon's start: they are its own, in progress).

        Their outcome is `interrupted`; their end is the last thing known of them: the time
        of their latest event, else their arrival. Returns how many were closed.
        """
        last = (
            select(func.max(CallEvent.at))
            .where(CallEvent.call_id == Call.id)
            .correlate(Call)
            .scalar_subquery()
        )
        query = (
            update(Call)
            .where(and_(Call.ended_at.is_(None), Call.asterisk_node == node, Call.app_name == app))
            .where(Call.arrived_at < arrived_before)
            .where(Call.id.not_in(list(keep)))
            .values(outcome=Outcome.INTERRUPTED, ended_at=func.coalesce(last, Call.arrived_at))
            .execution_options(synchronize_session=False)
        )
        async with self._db.write() as session:
            closed = int(getattr(await session.execute(query), "rowcount", 0) or 0)
        if closed:
            log.warning("calls.interrupted_closed", count=closed, node=node, app=app)
        return closed

    async def add_event(
        self,
        call_id: str,
        kind: EventKind,
        detail: Mapping[str, Any] | None = None,
        *,
        sensitive: bool = False,
        at: dt.datetime | None = None,
    ) -> int:
        """Append an event to the call's timeline and return its sequence number."""
        clean = clean_detail(detail or {}, sensitive)
        async with self._db.write() as session:
            return await append_event(
                session=session, call_id=call_id, kind=kind, detail=clean, at=at or self._clock()
            )

    async def get(self, call_id: str) -> Call:
        """Return the call, or raise CallNotFoundError."""
        async with self._db.read() as session:
            call = await session.get(Call, call_id)
        if call is None:
            raise CallNotFoundError(call_id)
        return call

    async def events(self, call_id: str) -> list[CallEvent]:
        """Return the call's timeline in order."""
        query = select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)
        async with self._db.read() as session:
            return list(await session.scalars(query))


def new_call_values(call: NewCall) -> dict[str, Any]:
    """Return the column values of CALL's new row."""
    return {**dataclasses.asdict(call), "last_event_seq": 0}


def finish_values(hangup: Hangup) -> dict[str, Any]:
    """Return the column values that record HANGUP."""
    return {
        "outcome": hangup.outcome,
        "ended_at": hangup.ended_at,
        "hangup_cause_code": hangup.cause_code,
        "hangup_cause_text": hangup.cause_text,
    }


# The journal's statements are built once and take their values as parameters: SQLAlchemy then
# finds a statement's compiled form by a cache key it keeps on the statement object, where a
# statement built per write with its values in it has its key computed each time (measured:
# about half of the journal's CPU in bench/journal.py went to that). The columns a row write
# sets are the parameters' names, so one statement serves every combination of them.
_INSERT_CALL = insert(Call)
_INSERT_EVENTS = insert(CallEvent)
_CALL_ID = "p_call_id"
_UPDATE_CALL = update(Call).where(Call.id == bindparam(_CALL_ID))


async def insert_call(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Insert a call row (VALUES from `new_call_values`, maybe with more) in SESSION."""
    await _core(session, _INSERT_CALL, dict(_columns(values)))


@dataclass(slots=True)
class TimelineRows:
    """Timeline rows numbered in a transaction and inserted together at its end."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    async def insert(self, session: AsyncSession) -> None:
        """Insert the rows collected so far (one statement, executemany) and forget them."""
        if self.rows:
            await (await session.connection()).execute(_INSERT_EVENTS, self.rows)
            self.rows = []


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A timeline event to append: its kind, its detail (as `clean_detail` returns it), its time."""

    kind: EventKind
    detail: dict[str, Any]
    at: dt.datetime


async def append_event(
    session: AsyncSession,
    call_id: str,
    kind: EventKind,
    detail: dict[str, Any],
    at: dt.datetime,
    *,
    later: TimelineRows | None = None,
) -> int:
    """Add an event inside SESSION's transaction; the call row's counter gives its number.

    With LATER the row is only numbered now and inserted by `later.insert` before the
    transaction commits (the journal inserts a batch's rows in one statement).
    """
    rows = later if later is not None else TimelineRows()
    await append_events(session, call_id, [NewEvent(EventKind(kind), detail, at)], rows)
    seq = int(rows.rows[-1]["seq"])
    if later is None:
        await rows.insert(session)
    return seq


async def append_events(
    session: AsyncSession,
    call_id: str,
    events: Sequence[NewEvent],
    later: TimelineRows,
    *,
    values: Mapping[str, Any] | None = None,
    arrived_at: dt.datetime | None = None,
) -> CallFacts:
    """Number EVENTS after the call's last and queue their rows in LATER, in SESSION.

    One statement sets the call row's counter, the figures the events change and VALUES (other
    columns of the row, e.g. a journal's merged updates): the result is that of appending the
    events one by one after setting VALUES. Conversation seconds need the call's arrival: with
    ARRIVED_AT (the caller knows it) they are in that statement too, else a second one sets
    them. Returns the call's facts as the statement left them; raises CallNotFoundError if
    there is no such call.
    """
    tally = _Tally.of(events)
    shape, parameters = tally.bump(len(events), arrived_at)
    parameters.update(_columns(values or {}))
    parameters[_CALL_ID] = call_id
    found = (await _core(session, _bump(shape), parameters)).one_or_none()
    if found is None:
        raise CallNotFoundError(call_id)
    facts = CallFacts(*found[1:])
    if arrived_at is None and (conversation := tally.conversation(facts.arrived_at)):
        shape, parameters = conversation
        await _core(session, _bump(shape), {**parameters, _CALL_ID: call_id})
    _number(later, call_id, events, int(found[0]) - len(events))
    return facts


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What `append_events` reads back from the call's row (a recording's row copies them)."""

    arrived_at: dt.datetime
    department: str | None
    agent_endpoint: str | None
    agent_name: str | None


async def insert_call_with_events(
    session: AsyncSession,
    values: Mapping[str, Any],
    events: Sequence[NewEvent],
    later: TimelineRows,
) -> None:
    """Insert a new call's row (VALUES from `new_call_values`) with its first EVENTS numbered
    from 1 and their figures counted, as `insert_call` then `append_events` would."""
    tally = _Tally.of(events)
    row = {**values, "last_event_seq": len(events)}
    row.update(tally.first_values())
    row.update(tally.first_conversation_values(values["arrived_at"]))
    await insert_call(session, row)
    _number(later, str(values["id"]), events, 0)


def _number(later: TimelineRows, call_id: str, events: Sequence[NewEvent], before: int) -> None:
    later.rows.extend(
        {"call_id": call_id, "seq": before + n, "at": e.at, "kind": e.kind, "detail": e.detail}
        for n, e in enumerate(events, start=1)
    )


_NAME_LENGTH = 128


@dataclass(frozen=True, slots=True)
class _Tally:
    """What a run of timeline events changes in the call row's statistics figures.

    A transfer event with a `to` is a blind transfer; one with an `overflow` is a queue
    overflow from that department. The row keeps the department the call overflowed from
    while all its overflows share one (the statistics read the timeline for the rare call
    that overflowed from several): appended one by one, the column ends as the run's source
    when every overflow of the run names the same department (and the row had none or that
    one), else NULL. Conversation seconds add up each conversation's end minus its answer,
    both measured from the arrival, so the sum stays small and exact to the microsecond.
    """

    transfers: int = 0
    overflows: int = 0
    source: str | None = None  # the department every overflow of the run names, if one
    answered: tuple[dt.datetime, ...] = ()
    ended: tuple[dt.datetime, ...] = ()

    @classmethod
    def of(cls, events: Sequence[NewEvent]) -> _Tally:
        transfers, sources = 0, []
        answered, ended = [], []
        for event in events:
            if event.kind is EventKind.TRANSFER:
                transfers += event.detail.get("to") is not None
                if (source := event.detail.get("overflow")) is not None:
                    sources.append(source)
            elif event.kind is EventKind.AGENT_ANSWERED:
                answered.append(event.at)
            elif event.kind is EventKind.CONVERSATION_ENDED:
                ended.append(event.at)
        first = sources[0] if sources else None
        named = isinstance(first, str) and len(first) <= _NAME_LENGTH
        one = first if named and all(s == first for s in sources) else None
        return cls(transfers, len(sources), one, tuple(answered), tuple(ended))

    def bump(self, events: int, arrived_at: dt.datetime | None) -> tuple[_Shape, dict[str, Any]]:
        """Return the statement shape and parameters that add EVENTS to the row's counter and
        these figures (the conversation figures only when ARRIVED_AT is known)."""
        parameters: dict[str, Any] = {"p_events": events}
        if self.transfers:
            parameters["p_transfers"] = self.transfers
        if self.overflows:
            parameters["p_overflows"] = self.overflows
            if self.source is not None:
                parameters["p_source"] = self.source
        shape = _Shape()
        if arrived_at is not None and (conversation := self.conversation(arrived_at)):
            shape, more = conversation
            parameters.update(more)
        shape = dataclasses.replace(
            shape,
            events=True,
            transfers=bool(self.transfers),
            overflows=bool(self.overflows),
            source=self.source is not None,
            returning=True,
        )
        return shape, parameters

    def first_values(self) -> dict[str, Any]:
        """Return the transfer figures of a new row whose first events these are."""
        return {
            "transfers": self.transfers,
            "overflows": self.overflows,
            "overflowed_from": self.source,
        }

    def _seconds(self, arrived_at: dt.datetime) -> float:
        micro = dt.timedelta(microseconds=1)
        ends = sum((at - arrived_at) // micro for at in self.ended)
        answers = sum((at - arrived_at) // micro for at in self.answered)
        return (ends - answers) / 1_000_000

    def conversation(self, arrived_at: dt.datetime) -> tuple[_Shape, dict[str, Any]] | None:
        """Return the statement shape and parameters that add these conversation figures to
        the row; None when the events answered and ended no conversation."""
        if not (self.answered or self.ended):
            return None
        parameters: dict[str, Any] = {"p_seconds": self._seconds(arrived_at)}
        if self.ended:
            parameters["p_conversations"] = len(self.ended)
        return _Shape(seconds=True, conversations=bool(self.ended)), parameters

    def first_conversation_values(self, arrived_at: dt.datetime) -> dict[str, Any]:
        """Return the conversation figures of a new row whose first events these are."""
        return {"handle_seconds": self._seconds(arrived_at), "conversations": len(self.ended)}


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which of a call row's counter and figures one `_bump` statement adds to."""

    events: bool = False
    transfers: bool = False
    overflows: bool = False
    source: bool = False  # overflowed_from: the run's one department (else NULL)
    seconds: bool = False
    conversations: bool = False
    returning: bool = False  # RETURNING the counter and the `CallFacts`


@functools.cache
def _bump(shape: _Shape) -> Update:
    """Return the UPDATE of SHAPE (built once): the sums take their numbers as parameters
    (`p_events`, `p_transfers`, ...), and parameters named as columns set those columns."""
    changes: dict[str, Any] = {}
    if shape.events:
        changes["last_event_seq"] = Call.last_event_seq + bindparam("p_events", type_=Integer())
    if shape.transfers:
        changes["transfers"] = Call.transfers + bindparam("p_transfers", type_=Integer())
    if shape.overflows:
        changes["overflows"] = Call.overflows + bindparam("p_overflows", type_=Integer())
        if shape.source:
            source = bindparam("p_source", type_=Call.__table__.c.overflowed_from.type)
            changes["overflowed_from"] = case(
                (Call.overflows == 0, source), (Call.overflowed_from == source, source)
            )
        else:
            changes["overflowed_from"] = null()
    if shape.seconds:
        changes["handle_seconds"] = Call.handle_seconds + bindparam("p_seconds", type_=Float())
    if shape.conversations:
        changes["conversations"] = Call.conversations + bindparam(
            "p_conversations", type_=Integer()
        )
    statement = _UPDATE_CALL.values(**changes)
    if shape.returning:
        statement = statement.returning(
            Call.last_event_seq,
            Call.arrived_at,
            Call.department,
            Call.agent_endpoint,
            Call.agent_name,
        )
    return statement


async def update_call(session: AsyncSession, call_id: str, values: Mapping[str, Any]) -> None:
    """Set VALUES on the call's row in SESSION, or raise CallNotFoundError."""
    result = await _core(session, _UPDATE_CALL, {**_columns(values), _CALL_ID: call_id})
    if getattr(result, "rowcount", 0) != 1:
        raise CallNotFoundError(call_id)


def _columns(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return column_values(Call, values)


async def _core(
    session: AsyncSession, statement: Executable, parameters: Any = None
) -> CursorResult[Any]:
    """Execute STATEMENT with PARAMETERS on SESSION's connection: a Core statement, without the
    ORM's bulk update machinery (identity map sync), which costs more than the statement here."""
    return await (await session.connection()).execute(statement, parameters)


def clean_detail(detail: Mapping[str, Any], sensitive: bool) -> dict[str, Any]:
    """Return DETAIL with keypad input masked if SENSITIVE; raise ValueError if too large."""
    clean = {key: _mask(key, value) for key, value in detail.items()} if sensitive else dict(detail)
    size = len(json.dumps(clean, default=str))
    if size > MAX_DETAIL_BYTES:
        raise ValueError(f"event detail is {size} bytes; the limit is {MAX_DETAIL_BYTES}")
    return clean


def _mask(key: str, value: Any) -> Any:
    # Digits may come under any key; anything that looks like keypad input is masked too.
    if key.lower() in _DIGIT_KEYS:
        return MASK
    if isinstance(value, Mapping):
        return {inner: _mask(inner, item) for inner, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(key, item) for item in value]
    if isinstance(value, str | int) and _KEYPAD.fullmatch(str(value)):
        return MASK
    return value
