"""The customer records: create, change, find by number or text, a customer's calls, notes.

The functions take the caller's session, so an API change and its audit entry commit together
(as `zentrale.qa.reviews` does); `CustomerStore` wraps them in their own transactions for
the command line and the call flows. A number belongs to one customer: taking a number another
customer has is refused with `NumberTakenError`, in the check and, for a race, by the primary key.
What a user may see is a `Scope` of calls: a customer is visible when one of their calls is.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.clock import Clock, utcnow
from zentrale.calls.models import Call, Direction
from zentrale.customers.emails import LIMIT, InvalidEmailError, normalise_email
from zentrale.customers.errors import (
    CustomerNotFoundError,
    CustomerNumberTakenError,
    InvalidCustomerError,
    NumberTakenError,
)
from zentrale.customers.models import CallNote, Customer, CustomerNumber, NoteKind
from zentrale.customers.numbers import InvalidNumberError, normalise
from zentrale.db.session import Database
from zentrale.recording.models import Recording

EDITABLE = ("name", "customer_number", "language", "email", "vip", "notes")
"""Fields of a record that can be set; `missing` lists the empty ones agents should complete."""
COMPLETABLE = ("name", "customer_number", "language")
"""The fields `missing` names when empty; `email` is optional (completed, never asked for)."""
LIMITS = {"name": 128, "customer_number": 64, "email": LIMIT, "notes": 4000}
NOTE_LIMIT = 4000
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_CUSTOMER_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A customer with their phone numbers, detached from any session."""

    id: str
    name: str | None
    customer_number: str | None
    language: str | None
    vip: bool
    notes: str | None
    numbers: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    email: str | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        """Return the fields agents should complete (empty name, customer number, language)."""
        return tuple(name for name in COMPLETABLE if not getattr(self, name))

    def facts(self) -> dict[str, str]:
        """Return the fields routing rules match on (`customer: {vip: true}`), as text."""
        found = {"vip": "true" if self.vip else "false"}
        if self.language:
            found["language"] = self.language
        if self.customer_number:
            found["customer_number"] = self.customer_number
        return found


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """A customer to create: at least one number; everything else may come later."""

    numbers: Sequence[str]
    name: str | None = None
    customer_number: str | None = None
    language: str | None = None
    vip: bool = False
    notes: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """A change to a record: fields to set (None empties one) and numbers to add or remove."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    add_numbers: Sequence[str] = ()
    remove_numbers: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Scope:
    """The calls a user may see: every call, a set of departments', or one agent's."""

    departments: tuple[str, ...] | None = None
    """None: every department."""
    agent_endpoint: str | None = None
    """Only the calls this agent phone answered (for agents)."""
    agent_only: bool = False
    """True for agents: without an endpoint they see no call at all."""

    def calls(self) -> ColumnElement[bool]:
        """Return the condition on `calls` rows in this scope."""
        if self.agent_only:
            if self.agent_endpoint is None:
                return false()
            return Call.agent_endpoint == self.agent_endpoint
        if self.departments is None:
            return true()
        return Call.department.in_(self.departments)

    @property
    def everything(self) -> bool:
        """Tell whether this scope is unlimited (administrators)."""
        return self.departments is None and not self.agent_only


EVERYTHING = Scope()


@dataclass(frozen=True, slots=True)
class RecordingRef:
    """A recording of a call in a customer's history."""

    id: str
    state: str
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One call of a customer: when, which way, how it ended, who took it, and its notes."""

    call_id: str
    direction: str
    number: str | None
    arrived_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None
    department: str | None
    agent_endpoint: str | None
    agent_name: str | None
    recordings: tuple[RecordingRef, ...]
    notes: tuple[CallNote, ...]


# -- records -------------------------------------------------------------------------------
async def create(session: AsyncSession, new: NewCustomer, now: dt.datetime) -> CustomerRecord:
    """Insert a customer with their numbers; refuse numbers other customers have."""
    numbers = _numbers(new.numbers)
    if not numbers:
        raise InvalidCustomerError("a customer needs at least one phone number")
    values = _checked({name: getattr(new, name) for name in EDITABLE})
    customer = Customer(id=str(uuid.uuid4()), created_at=now, updated_at=now, **values)
    await _check_customer_number(session, customer.id, customer.customer_number)
    session.add(customer)
    await session.flush()
    await _add_numbers(session, customer.id, numbers)
    return await get(session, customer.id)


async def update(
    session: AsyncSession, customer_id: str, changes: Changes, now: dt.datetime
) -> tuple[CustomerRecord, tuple[str, ...]]:
    """Apply CHANGES; return the record and the names of what changed (`numbers` included)."""
    customer = await _row(session, customer_id)
    values = _checked(changes.fields)
    changed = [name for name, value in values.items() if getattr(customer, name) != value]
    if "customer_number" in changed:
        await _check_customer_number(session, customer.id, values["customer_number"])
    for name in changed:
        setattr(customer, name, values[name])
    added, removed = _numbers(changes.add_numbers), _numbers(changes.remove_numbers)
    if added or removed:
        changed.append("numbers")
        await _remove_numbers(session, customer.id, removed)
        await _add_numbers(session, customer.id, [n for n in added if n not in removed])
        if not await _numbers_of(session, customer.id):
            raise InvalidCustomerError("a customer keeps at least one phone number")
    if changed:
        customer.updated_at = now
    await session.flush()
    return await get(session, customer_id), tuple(changed)


async def get(session: AsyncSession, customer_id: str) -> CustomerRecord:
    """Return the customer, or raise CustomerNotFoundError."""
    return _record(await _row(session, customer_id), await _numbers_of(session, customer_id))


async def by_number(session: AsyncSession, number: str) -> CustomerRecord | None:
    """Return the customer a phone number belongs to (any written form), or None."""
    try:
        key = normalise(number)
    except InvalidNumberError:
        return None
    owner = await session.get(CustomerNumber, key)
    return None if owner is None else await get(session, owner.customer_id)


async def facts_for(session: AsyncSession, number: str) -> dict[str, str] | None:
    """Return the routing facts of the customer NUMBER (already normalised) belongs to."""
    query = select(Customer).join(CustomerNumber, CustomerNumber.customer_id == Customer.id)
    customer = (await session.scalars(query.where(CustomerNumber.number == number))).first()
    if customer is None:
        return None
    return _record(customer, ()).facts()


async def search(
    session: AsyncSession, text: str, scope: Scope = EVERYTHING, limit: int = 50
) -> list[CustomerRecord]:
    """Find customers by part of a name, a customer number, an e-mail address (whole) or the
    start of a phone number."""
    text = text.strip()
    if not text:
        raise InvalidCustomerError(
            "say what to search for: a name, customer number, e-mail address or phone number"
        )
    conditions = [
        func.lower(Customer.name).contains(text.lower(), autoescape=True),
        Customer.customer_number == text,
    ]
    if "@" in text:
        conditions.append(func.lower(Customer.email) == text.lower())
    digits = re.sub(r"[\s\-./()]", "", text)
    if re.fullmatch(r"(\+|00)?[0-9]{3,15}", digits):
        core = digits[1:] if digits.startswith("+") else digits.removeprefix("00")
        owned = select(CustomerNumber.customer_id).where(
            CustomerNumber.number.contains(core, autoescape=True)
        )
        conditions.append(Customer.id.in_(owned))
    query = select(Customer).where(or_(*conditions), _visible(scope))
    rows = list(await session.scalars(query.order_by(Customer.name, Customer.id).limit(limit)))
    return await _records(session, rows)


async def visible(session: AsyncSession, customer_id: str, scope: Scope) -> CustomerRecord:
    """Return the customer if SCOPE may see them; else CustomerNotFoundError (as for none)."""
    if not scope.everything:
        query = select(Customer.id).where(Customer.id == customer_id, _visible(scope))
        if (await session.scalars(query)).first() is None:
            raise CustomerNotFoundError(customer_id)
    return await get(session, customer_id)


async def history(
    session: AsyncSession, customer: CustomerRecord, scope: Scope = EVERYTHING, limit: int = 100
) -> list[HistoryEntry]:
    """Return the customer's calls in SCOPE, newest first, with recordings and notes."""
    if not customer.numbers:
        return []
    query = (
        select(Call)
        .where(_calls_of(customer.numbers), scope.calls())
        .order_by(Call.arrived_at.desc(), Call.id)
        .limit(limit)
    )
    calls = list(await session.scalars(query))
    ids = [call.id for call in calls]
    recordings = await _by_call(
        session=session,
        model=Recording,
        column=Recording.call_id,
        order=Recording.created_at,
        ids=ids,
    )
    notes = await _by_call(
        session=session, model=CallNote, column=CallNote.call_id, order=CallNote.created_at, ids=ids
    )
    return [_entry(call, recordings.get(call.id, []), notes.get(call.id, [])) for call in calls]


def customer_side(call: Call) -> str | None:
    """Return the customer's number on CALL: the caller inbound, the called number outbound."""
    if call.direction is Direction.OUTBOUND:
        return call.called_number
    return call.caller_number


# -- notes ---------------------------------------------------------------------------------
async def add_note(
    session: AsyncSession,
    call: Call,
    kind: NoteKind,
    text: str,
    author: tuple[str | None, str],
    now: dt.datetime,
) -> CallNote:
    """Leave a note on CALL (kept with the call's department and customer, if known)."""
    text = text.strip()
    if not text or len(text) > NOTE_LIMIT or "\x00" in text:
        raise InvalidCustomerError(f"a note needs text of 1-{NOTE_LIMIT} characters (no NUL)")
    number = customer_side(call)
    customer = await by_number(session, number) if number else None
    note = CallNote(
        id=str(uuid.uuid4()),
        call_id=call.id,
        customer_id=customer.id if customer else None,
        kind=NoteKind(kind),
        text=text,
        author_id=author[0],
        author_name=author[1],
        department=call.department,
        created_at=now,
        call_arrived_at=call.arrived_at,
    )
    session.add(note)
    await session.flush()
    return note


async def notes(
    session: AsyncSession,
    kind: NoteKind | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    departments: tuple[str, ...] | None = None,
    limit: int = 500,
) -> list[CallNote]:
    """Return notes (of a kind, in [SINCE, UNTIL), of DEPARTMENTS when given), newest first."""
    conditions: list[ColumnElement[bool]] = []
    if kind is not None:
        conditions.append(CallNote.kind == kind)
    if since is not None:
        conditions.append(CallNote.created_at >= since)
    if until is not None:
        conditions.append(CallNote.created_at < until)
    if departments is not None:
        conditions.append(CallNote.department.in_(departments))
    query = select(CallNote).where(*conditions).order_by(CallNote.created_at.desc(), CallNote.id)
    return list(await session.scalars(query.limit(limit)))


# -- helpers -------------------------------------------------------------------------------
def _numbers(numbers: Iterable[str]) -> list[str]:
    found: list[str] = []
    for number in numbers:
        clean = normalise(number)
        if clean not in found:
            found.append(clean)
    return found


def _checked(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        known = ", ".join(EDITABLE)
        raise InvalidCustomerError(f"unknown field(s) {', '.join(unknown)}; known: {known}")
    checked: dict[str, Any] = {}
    for name, value in values.items():
        checked[name] = check_field(name, value)
    return checked


def check_field(name: str, value: Any) -> Any:
    """Return VALUE of field NAME cleaned (stripped, empty as None); raise InvalidCustomerError."""
    if name == "vip":
        if not isinstance(value, bool):
            raise InvalidCustomerError("vip is true or false")
        return value
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCustomerError(f"{name} must be text")
    value = value.strip()
    if "\x00" in value:
        raise InvalidCustomerError(f"{name} must not contain NUL characters")
    if len(value) > LIMITS.get(name, 16):
        raise InvalidCustomerError(f"{name} is longer than {LIMITS.get(name, 16)} characters")
    if name == "language" and value and not _LANGUAGE.fullmatch(value):
        raise InvalidCustomerError(f"language '{value}' is not a language code like de, tr or en")
    if name == "customer_number" and value and not _CUSTOMER_NUMBER.fullmatch(value):
        raise InvalidCustomerError(
            f"customer number '{value}' may hold letters, digits and _ . / - only"
        )
    if name == "email" and value:
        return _email(value)
    return value or None


def _email(value: str) -> str:
    """The normalised address; the error names the field and why, not the address itself."""
    try:
        return normalise_email(value)
    except InvalidEmailError as exc:
        raise InvalidCustomerError(f"email is not a valid e-mail address: {exc}") from None


async def _check_customer_number(
    session: AsyncSession, customer_id: str, customer_number: str | None
) -> None:
    if customer_number is None:
        return
    query = select(Customer.id).where(
        Customer.customer_number == customer_number, Customer.id != customer_id
    )
    if (await session.scalars(query)).first() is not None:
        raise CustomerNumberTakenError(customer_number)


async def _add_numbers(session: AsyncSession, customer_id: str, numbers: list[str]) -> None:
    for number in numbers:
        owner = await session.get(CustomerNumber, number)
        if owner is not None and owner.customer_id != customer_id:
            raise NumberTakenError(number, owner.customer_id)
        if owner is None:
            session.add(CustomerNumber(number=number, customer_id=customer_id))
            try:
                await session.flush()
            except IntegrityError:  # another transaction took it in between
                raise NumberTakenError(number, None) from None


async def _remove_numbers(session: AsyncSession, customer_id: str, numbers: list[str]) -> None:
    if numbers:
        await session.execute(
            delete(CustomerNumber).where(
                CustomerNumber.customer_id == customer_id, CustomerNumber.number.in_(numbers)
            )
        )


async def _row(session: AsyncSession, customer_id: str) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFoundError(customer_id)
    return customer


async def _numbers_of(session: AsyncSession, customer_id: str) -> tuple[str, ...]:
    query = select(CustomerNumber.number).where(CustomerNumber.customer_id == customer_id)
    return tuple(await session.scalars(query.order_by(CustomerNumber.number)))


async def _records(session: AsyncSession, rows: list[Customer]) -> list[CustomerRecord]:
    ids = [row.id for row in rows]
    numbers: dict[str, list[str]] = {}
    query = select(CustomerNumber).where(CustomerNumber.customer_id.in_(ids))
    for found in await session.scalars(query.order_by(CustomerNumber.number)):
        numbers.setdefault(found.customer_id, []).append(found.number)
    return [_record(row, tuple(numbers.get(row.id, ()))) for row in rows]


def _record(row: Customer, numbers: tuple[str, ...]) -> CustomerRecord:
    return CustomerRecord(
        id=row.id,
        name=row.name,
        customer_number=row.customer_number,
        language=row.language,
        vip=bool(row.vip),
        notes=row.notes,
        email=row.email,
        numbers=numbers,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _calls_of(numbers: Sequence[str]) -> ColumnElement[bool]:
    """Calls from (inbound) or to (outbound) one of NUMBERS: both columns are indexed."""
    return or_(Call.caller_number.in_(numbers), Call.called_number.in_(numbers))


def _visible(scope: Scope) -> ColumnElement[bool]:
    """Customers with a call in SCOPE; supervisors also see customers nobody has called yet."""
    if scope.everything:
        return true()
    in_scope = _has_call(scope.calls())
    if scope.agent_only:
        return in_scope
    return or_(in_scope, ~_has_call(true()))


def _has_call(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """The customer (of the enclosing query) has a call meeting CONDITION."""
    number = CustomerNumber.number
    on = or_(Call.caller_number == number, Call.called_number == number)
    query = (
        select(Call.id)
        .select_from(CustomerNumber)
        .join(Call, on)
        .where(CustomerNumber.customer_id == Customer.id, condition)
    )
    return exists(query)


async def _by_call(
    session: AsyncSession, model: Any, column: Any, order: Any, ids: list[str]
) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    if ids:
        for row in await session.scalars(select(model).where(column.in_(ids)).order_by(order)):
            found.setdefault(row.call_id, []).append(row)
    return found


def _entry(call: Call, recordings: list[Recording], notes: list[CallNote]) -> HistoryEntry:
    refs = tuple(RecordingRef(r.id, r.state.value, r.duration_s) for r in recordings)
    return HistoryEntry(
        call_id=call.id,
        direction=call.direction.value,
        number=customer_side(call),
        arrived_at=call.arrived_at,
        ended_at=call.ended_at,
        outcome=call.outcome.value if call.outcome else None,
        department=call.department,
        agent_endpoint=call.agent_endpoint,
        agent_name=call.agent_name,
        recordings=refs,
        notes=tuple(notes),
    )


class CustomerStore:
    """The functions above, each in its own transaction (command line, call flows, tests)."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def create(self, new: NewCustomer) -> CustomerRecord:
        """Create a customer (see `create`)."""
        async with self._db.write() as session:
            return await create(session, new, self._clock())

    async def update(self, customer_id: str, changes: Changes) -> CustomerRecord:
        """Change a customer (see `update`)."""
        async with self._db.write() as session:
            record, _changed = await update(session, customer_id, changes, self._clock())
            return record

    async def get(self, customer_id: str) -> CustomerRecord:
        """Return a customer or raise CustomerNotFoundError."""
        async with self._db.read() as session:
            return await get(session, customer_id)

    async def by_number(self, number: str) -> CustomerRecord | None:
        """Return the customer NUMBER belongs to, or None."""
        async with self._db.read() as session:
            return await by_number(session, number)

    async def search(self, text: str, scope: Scope = EVERYTHING) -> list[CustomerRecord]:
        """Find customers (see `search`)."""
        async with self._db.read() as session:
            return await search(session, text, scope)

    async def history(
        self, customer_id: str, scope: Scope = EVERYTHING, limit: int = 100
    ) -> list[HistoryEntry]:
        """Return the customer's calls, newest first."""
        async with self._db.read() as session:
            return await history(session, await get(session, customer_id), scope, limit)

    async def add_note(
        self, call_id: str, kind: NoteKind, text: str, author: tuple[str | None, str]
    ) -> CallNote:
        """Leave a note on a call."""
        from zentrale.calls.errors import CallNotFoundError

        async with self._db.write() as session:
            call = await session.get(Call, call_id)
            if call is None:
                raise CallNotFoundError(call_id)
            return await add_note(
                session=session, call=call, kind=kind, text=text, author=author, now=self._clock()
            )
