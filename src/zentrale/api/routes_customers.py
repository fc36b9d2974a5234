"""API routes for customer records and agents' notes on calls.

Who sees what: administrators every customer and call; supervisors the customers who called
their departments (and those nobody has called yet) and those departments' calls; agents the
customers and calls they answered themselves. Agents complete a record (fill empty fields, add
numbers) but do not overwrite it or set VIP. Every read and change of a record goes to the
audit log with phone numbers masked. The web page (`zentrale.api.web.customer_pages`) uses the
same rules through `CustomerAccess`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.api.auth import Caller, deps_of
from zentrale.api.text import NO_NUL
from zentrale.base.clock import ClientTime
from zentrale.base.errors import ForbiddenError, NotFoundError
from zentrale.calls.models import Call
from zentrale.config.logging import mask_number, mask_text
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.customers import store
from zentrale.customers.errors import CustomerError, NumberTakenError
from zentrale.customers.models import CallNote, NoteKind
from zentrale.customers.numbers import normalise
from zentrale.customers.store import Changes, CustomerRecord, HistoryEntry, NewCustomer, Scope

router = APIRouter(prefix="/api", tags=["customers"])

CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
CallId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
PhoneNumber = Annotated[str, Field(min_length=3, max_length=40, pattern=NO_NUL)]
AGENT_COMPLETES = ("name", "customer_number", "language", "email", "notes")
Email = Annotated[str | None, Field(max_length=254, pattern=NO_NUL)]
"""Checked and normalised by the store (422 `invalid-customer` naming `email` and why)."""


# -- bodies ----------------------------------------------------------------------------------
class CustomerIn(BaseModel):
    """A new customer: at least one phone number."""

    model_config = ConfigDict(extra="forbid")
    numbers: list[PhoneNumber] = Field(min_length=1, max_length=10)
    name: str | None = Field(default=None, max_length=128, pattern=NO_NUL)
    customer_number: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    email: Email = None
    vip: bool = False
    notes: str | None = Field(default=None, max_length=4000, pattern=NO_NUL)


class CustomerPatch(BaseModel):
    """Fields to set (null empties one) and numbers to add or remove."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=128, pattern=NO_NUL)
    customer_number: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    email: Email = None
    vip: bool | None = None
    notes: str | None = Field(default=None, max_length=4000, pattern=NO_NUL)
    add_numbers: list[PhoneNumber] = Field(default_factory=list, max_length=10)
    remove_numbers: list[PhoneNumber] = Field(default_factory=list, max_length=10)

    def changes(self) -> Changes:
        """Return the store's view of this patch (only the fields sent)."""
        sent = self.model_dump(exclude_unset=True)
        fields = {k: v for k, v in sent.items() if k in store.EDITABLE}
        return Changes(fields, tuple(self.add_numbers), tuple(self.remove_numbers))


class NoteIn(BaseModel):
    """A note on a call: a note, a disposition (outcome tag) or a suggestion for management."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["note", "disposition", "suggestion"]
    text: str = Field(min_length=1, max_length=4000, pattern=NO_NUL)


class CustomerOut(BaseModel):
    """A customer record; `missing` lists the fields agents should complete."""

    id: str
    name: str | None
    customer_number: str | None
    language: str | None
    email: str | None
    vip: bool
    notes: str | None
    numbers: list[str]
    missing: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, record: CustomerRecord) -> CustomerOut:
        """Build from a store record."""
        return cls(
            id=record.id,
            name=record.name,
            customer_number=record.customer_number,
            language=record.language,
            email=record.email,
            vip=record.vip,
            notes=record.notes,
            numbers=list(record.numbers),
            missing=list(record.missing),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class NoteOut(BaseModel):
    """A note left on a call."""

    id: str
    call_id: str
    customer_id: str | None
    kind: str
    text: str
    author_name: str
    department: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, note: CallNote) -> NoteOut:
        """Build from a row."""
        return cls(
            id=note.id,
            call_id=note.call_id,
            customer_id=note.customer_id,
            kind=str(note.kind),
            text=note.text,
            author_name=note.author_name,
            department=note.department,
            created_at=note.created_at,
        )


class RecordingRefOut(BaseModel):
    """A recording of a call in the history (open it at /recordings/{id})."""

    id: str
    state: str
    duration_s: float | None


class HistoryOut(BaseModel):
    """One call of the customer."""

    call_id: str
    direction: str
    number: str | None
    arrived_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None
    department: str | None
    agent_endpoint: str | None
    agent_name: str | None
    recordings: list[RecordingRefOut]
    notes: list[NoteOut]

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        """Build from a store entry."""
        values: dict[str, Any] = {
            name: getattr(entry, name)
            for name in cls.model_fields
            if name not in ("recordings", "notes")
        }
        recordings = [
            RecordingRefOut(id=r.id, state=r.state, duration_s=r.duration_s)
            for r in entry.recordings
        ]
        return cls(**values, recordings=recordings, notes=[NoteOut.of(n) for n in entry.notes])


# -- who may do what -------------------------------------------------------------------------
def scope_of(principal: Principal) -> Scope:
    """Return the calls (and so the customers) PRINCIPAL may see."""
    if principal.role is Role.ADMIN:
        return store.EVERYTHING
    if principal.role is Role.AGENT:
        return Scope(agent_endpoint=principal.agent_endpoint, agent_only=True)
    return Scope(departments=tuple(principal.departments))


@dataclass(frozen=True)
class CustomerAccess:
    """The customer operations of one user in one session, with their audit entries."""

    session: AsyncSession
    principal: Principal
    now: dt.datetime

    @property
    def scope(self) -> Scope:
        """Return the user's scope."""
        return scope_of(self.principal)

    async def _audit(self, action: str, target: str | None, **detail: Any) -> None:
        event = audit.Event(action, target=target, detail=detail)
        await audit.append(self.session, self.principal.actor, event, self.now)

    async def find(self, number: str | None, text: str | None) -> list[CustomerRecord]:
        """Find by exact number, or by text (name, customer number, e-mail, part of a number)."""
        if number:
            found = await store.by_number(self.session, number)
            records = [found] if found and await self._sees(found.id) else []
            detail: dict[str, Any] = {"number": mask_number(number)}
        else:
            records = await store.search(self.session, text or "", self.scope)
            detail = {"q": mask_text(text or "")}  # an e-mail address masked too
        await self._audit("customer.search", None, hits=len(records), **detail)
        return records

    async def show(self, customer_id: str) -> CustomerRecord:
        """Return a record the user may see (audited)."""
        record = await store.visible(self.session, customer_id, self.scope)
        await self._audit("customer.view", _target(record.id))
        return record

    async def history(self, customer_id: str) -> list[HistoryEntry]:
        """Return the user's share of the customer's calls (audited)."""
        record = await store.visible(self.session, customer_id, self.scope)
        entries = await store.history(self.session, record, self.scope)
        await self._audit("customer.history", _target(record.id), calls=len(entries))
        return entries

    async def create(self, new: NewCustomer) -> CustomerRecord:
        """Create a record; agents only for numbers of calls they took, and never VIP."""
        if self.principal.role is Role.AGENT:
            if new.vip:
                raise ForbiddenError("agents do not set the VIP flag; ask a supervisor")
            await self._own_numbers(new.numbers)
        async with self._conflicts_in_scope():
            record = await store.create(self.session, new, self.now)
        await self._audit(
            "customer.create",
            _target(record.id),
            numbers=_masked(record.numbers),
            fields=[n for n in store.EDITABLE if getattr(record, n)],
        )
        return record

    async def update(self, customer_id: str, changes: Changes) -> CustomerRecord:
        """Change a record; agents only complete empty fields and add numbers."""
        current = await store.visible(self.session, customer_id, self.scope)
        if self.principal.role is Role.AGENT:
            _agent_may(current, changes)
        async with self._conflicts_in_scope():
            record, changed = await store.update(self.session, customer_id, changes, self.now)
        await self._audit(
            "customer.update",
            _target(record.id),
            fields=list(changed),
            added=_masked(changes.add_numbers),
            removed=_masked(changes.remove_numbers),
        )
        return record

    async def note(self, call_id: str, kind: NoteKind, text: str) -> CallNote:
        """Leave a note on a call the user may see (agents: their own calls)."""
        query = select(Call).where(Call.id == call_id, self.scope.calls())
        call = (await self.session.scalars(query)).first()
        if call is None:
            raise NotFoundError(f"no call {call_id!r}")
        author = (self.principal.user_id, self.principal.display_name)
        note = await store.add_note(
            session=self.session, call=call, kind=kind, text=text, author=author, now=self.now
        )
        await self._audit(
            "note.create",
            f"call:{call.id}",
            note=note.id,
            kind=str(kind),
            customer=note.customer_id,
        )
        return note

    @asynccontextmanager
    async def _conflicts_in_scope(self) -> AsyncIterator[None]:
        """Name the owner of a taken number only to a user who may see that customer.

        Telling a sales supervisor `already belongs to customer <id>` for a support customer
        would confirm that customer and hand out its id. The conflict itself cannot be hidden
        (a number belongs to one customer), so the answer is the one a race gives: 409 with
        "another customer" (the refusal is audited by the edge, see api.denials).
        """
        try:
            yield
        except NumberTakenError as exc:
            if exc.owner_id is None or await self._sees(exc.owner_id):
                raise
            raise NumberTakenError(mask_number(exc.number), None) from None

    async def _sees(self, customer_id: str) -> bool:
        try:
            await store.visible(self.session, customer_id, self.scope)
        except CustomerError:
            return False
        return True

    async def _own_numbers(self, numbers: Sequence[str]) -> None:
        endpoint = self.principal.agent_endpoint
        for number in numbers:
            clean = normalise(number)
            took = exists(
                select(Call.id).where(
                    Call.agent_endpoint == endpoint,
                    or_(Call.caller_number == clean, Call.called_number == clean),
                )
            )
            if endpoint is None or not await self.session.scalar(select(took)):
                raise ForbiddenError(
                    f"agents create customers only for numbers of calls they took; "
                    f"{mask_number(clean)} is not one"
                )


def _agent_may(current: CustomerRecord, changes: Changes) -> None:
    for name, value in changes.fields.items():
        if name not in AGENT_COMPLETES:
            raise ForbiddenError(f"agents do not change {name}; ask a supervisor")
        if getattr(current, name) and value != getattr(current, name):
            raise ForbiddenError(
                f"{name} is filled in already; agents only complete missing fields"
            )
    if changes.remove_numbers:
        raise ForbiddenError("agents do not remove numbers; ask a supervisor")


def _target(customer_id: str) -> str:
    return f"customer:{customer_id}"


def _masked(numbers: Sequence[str]) -> list[str]:
    return [mask_number(number) for number in numbers]


# -- routes ----------------------------------------------------------------------------------
@router.get("/customers", name="customers.search", response_model=list[CustomerOut])
async def search_customers(
    caller: Caller,
    request: Request,
    number: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
) -> list[CustomerOut]:
    """Find customers by phone number (`number=`, any written form) or by text (`q=`)."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        found = await CustomerAccess(session, caller, now).find(number, q)
    return [CustomerOut.of(record) for record in found]


@router.post("/customers", name="customers.create", response_model=CustomerOut, status_code=201)
async def create_customer(caller: Caller, request: Request, body: CustomerIn) -> CustomerOut:
    """Create a customer with their phone numbers."""
    deps = deps_of(request)
    now = deps.clock()
    new = NewCustomer(
        numbers=body.numbers,
        name=body.name,
        customer_number=body.customer_number,
        language=body.language,
        email=body.email,
        vip=body.vip,
        notes=body.notes,
    )
    async with deps.db.write() as session:
        record = await CustomerAccess(session, caller, now).create(new)
    return CustomerOut.of(record)


@router.get("/customers/{customer_id}", name="customers.show", response_model=CustomerOut)
async def show_customer(caller: Caller, request: Request, customer_id: CustomerId) -> CustomerOut:
    """Return one customer record."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        record = await CustomerAccess(session, caller, now).show(customer_id)
    return CustomerOut.of(record)


@router.patch("/customers/{customer_id}", name="customers.update", response_model=CustomerOut)
async def update_customer(
    caller: Caller, request: Request, customer_id: CustomerId, body: CustomerPatch
) -> CustomerOut:
    """Change or complete a customer record."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        record = await CustomerAccess(session, caller, now).update(customer_id, body.changes())
    return CustomerOut.of(record)


@router.get(
    "/customers/{customer_id}/calls", name="customers.history", response_model=list[HistoryOut]
)
async def customer_history(
    caller: Caller, request: Request, customer_id: CustomerId
) -> list[HistoryOut]:
    """The customer's calls, newest first, with outcome, department, agent, recordings, notes."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        entries = await CustomerAccess(session, caller, now).history(customer_id)
    return [HistoryOut.of(entry) for entry in entries]


@router.post("/calls/{call_id}/notes", name="notes.create", response_model=NoteOut, status_code=201)
async def create_note(caller: Caller, request: Request, call_id: CallId, body: NoteIn) -> NoteOut:
    """Leave a note, a disposition or a suggestion for management on a call."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        note = await CustomerAccess(session, caller, now).note(
            call_id, NoteKind(body.kind), body.text
        )
    return NoteOut.of(note)


@router.get("/notes", name="notes.list", response_model=list[NoteOut])
async def list_notes(
    caller: Caller,
    request: Request,
    kind: Annotated[Literal["note", "disposition", "suggestion"] | None, Query()] = None,
    since: Annotated[ClientTime | None, Query(alias="from")] = None,
    until: Annotated[ClientTime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[NoteOut]:
    """Notes of the user's departments (all for administrators), newest first; `to` excluded."""
    deps = deps_of(request)
    now = deps.clock()
    departments = None if caller.role is Role.ADMIN else tuple(caller.departments)
    async with deps.db.write() as session:
        rows = await store.notes(
            session=session,
            kind=NoteKind(kind) if kind else None,
            since=_aware(since),
            until=_aware(until),
            departments=departments,
            limit=limit,
        )
        detail = {"kind": kind, "from": str(since), "to": str(until), "hits": len(rows)}
        await audit.append(session, caller.actor, audit.Event("note.list", detail=detail), now)
    return [NoteOut.of(row) for row in rows]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
