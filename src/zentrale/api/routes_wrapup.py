"""Wrap-up in the agent's workspace: disposition, notes, suggestion, callback (inside the daemon).

After (or during) a call the agent who took it picks one of the department's disposition codes
(routing rules), writes notes, optionally a suggestion for management and a callback time; the
wrap-up is written once, with its audit entry, and `ready` ends the agent's after-call work.
Supervisors (their departments) and administrators read wrap-ups; agents read their own. The
agent's open callbacks are listed and can be cancelled. Calling hours and "now" come from the
call centre's clock, the one the callback scheduler runs on (a fake one in tests).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.text import NO_NUL
from zentrale.api.workspace import agent_endpoint, bind_center, center_of
from zentrale.base.errors import NotFoundError
from zentrale.calls.models import Call
from zentrale.core import audit
from zentrale.core.principal import Principal
from zentrale.customers import wrapup
from zentrale.customers.errors import (
    InvalidCallbackError,
    UnknownDispositionError,
)
from zentrale.customers.models import Callback, NoteKind
from zentrale.routing.rules import Rules
from zentrale.telephony.callbacks import CallingHours
from zentrale.telephony.callcenter import CallCenter

router = APIRouter(tags=["agent"])
CallId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
CallbackId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
Text = Annotated[str, Field(max_length=4000, pattern=NO_NUL)]


class WrapUpIn(BaseModel):
    """The agent's wrap-up of a call."""

    model_config = ConfigDict(extra="forbid")
    disposition: str | None = Field(default=None, max_length=128, pattern=NO_NUL)
    notes: Text | None = None
    suggestion: Text | None = None
    callback_at: dt.datetime | None = None
    """When to call back; without a zone, local time of the routing rules' time zone."""
    ready: bool = False
    """End after-call work once saved."""


class DispositionOut(BaseModel):
    """A code the agent may pick."""

    code: str
    label: str


class CallbackOut(BaseModel):
    """A callback promised at wrap-up."""

    id: str
    call_id: str
    number: str
    department: str | None
    agent_endpoint: str
    due_at: dt.datetime
    state: str
    attempts: int
    result: str | None
    placed_call_id: str | None

    @classmethod
    def of(cls, row: Callback) -> CallbackOut:
        """Build from a stored callback."""
        return cls(
            id=row.id,
            call_id=row.call_id,
            number=row.number,
            department=row.department,
            agent_endpoint=row.agent_endpoint,
            due_at=row.due_at,
            state=str(row.state),
            attempts=row.attempts,
            result=row.result,
            placed_call_id=row.placed_call_id,
        )


class WrapUpOut(BaseModel):
    """A stored wrap-up."""

    call_id: str
    agent_endpoint: str
    department: str | None
    disposition: str | None
    disposition_label: str | None
    notes: list[str]
    suggestion: str | None
    created_at: dt.datetime
    callbacks: list[CallbackOut]


class DispositionsOut(BaseModel):
    """The codes of the agent's departments, and the callbacks' calling hours."""

    departments: dict[str, list[DispositionOut]]
    calling_hours: str
    timezone: str


def _label(rules: Rules, department: str | None, code: str | None) -> str | None:
    found = rules.document.departments.get(department or "")
    disposition = found.disposition(code) if found is not None and code else None
    return disposition.label if disposition is not None else None


def _out(record: wrapup.WrapUpRecord, rules: Rules) -> WrapUpOut:
    row = record.wrapup
    suggestions = [n.text for n in record.notes if n.kind is NoteKind.SUGGESTION]
    return WrapUpOut(
        call_id=row.call_id,
        agent_endpoint=row.agent_endpoint,
        department=row.department,
        disposition=row.disposition,
        disposition_label=_label(rules, row.department, row.disposition),
        notes=[n.text for n in record.notes if n.kind is NoteKind.NOTE],
        suggestion=suggestions[0] if suggestions else None,
        created_at=row.created_at,
        callbacks=[CallbackOut.of(callback) for callback in record.callbacks],
    )


def check_disposition(rules: Rules, department: str | None, code: str | None) -> None:
    """Refuse a code the call's department does not list (or none where it lists some)."""
    found = rules.document.departments.get(department or "")
    codes = [d.code for d in found.dispositions] if found is not None else []
    if code is None:
        if codes:
            raise UnknownDispositionError(f"disposition: pick one of {', '.join(codes)}")
        return
    if code not in codes:
        known = ", ".join(codes) if codes else "none"
        raise UnknownDispositionError(
            f"disposition: '{code}' is not a code of department {department or '(none)'}"
            f" (its codes: {known})"
        )


def callback_time(
    value: dt.datetime, rules: Rules, hours: CallingHours, now: dt.datetime
) -> dt.datetime:
    """Return VALUE as aware UTC (no zone: the rules' time zone), checked against the hours."""
    zone = ZoneInfo(rules.document.timezone)
    aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    at = aware.astimezone(dt.UTC)
    problem = hours.check(at, now)
    if problem is not None:
        raise InvalidCallbackError(f"callback_at: {problem}")
    return at


async def _call(session: AsyncSession, call_id: str) -> Call:
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFoundError(f"no call {call_id!r}")
    return call


@router.get("/api/agent/dispositions", name="agent.dispositions", response_model=DispositionsOut)
async def dispositions(caller: Caller, request: Request) -> DispositionsOut:
    """Return the disposition codes of the departments the signed-in agent sits in."""
    center = center_of(request)
    endpoint = agent_endpoint(caller, center.services.queues.board)
    rules = center.rules()
    settings = center.services.settings.agents.callbacks
    return DispositionsOut(
        departments={
            name: [DispositionOut(code=d.code, label=d.label) for d in department.dispositions]
            for name, department in rules.document.departments.items()
            if any(agent.endpoint == endpoint for agent in department.agents)
        },
        calling_hours=f"{settings.hours} {settings.days}",
        timezone=rules.document.timezone,
    )


@router.put("/api/calls/{call_id}/wrapup", name="wrapup.save", response_model=WrapUpOut)
async def save_wrapup(
    caller: Caller, request: Request, call_id: CallId, body: WrapUpIn
) -> WrapUpOut:
    """Wrap up a call the signed-in agent took: disposition, notes, suggestion, callback."""
    center = center_of(request)
    board = center.services.queues.board
    endpoint = agent_endpoint(caller, board)
    rules, deps = center.rules(), deps_of(request)
    now = center.services.clock()
    hours = CallingHours.of(center.services.settings.agents.callbacks, rules.document.timezone)
    async with deps.db.write() as session:
        call = await _call(session, call_id)
        by = await wrapup.taker_of(session, call, endpoint)
        check_disposition(rules, by.department, body.disposition)
        at = callback_time(body.callback_at, rules, hours, now) if body.callback_at else None
        wrap = wrapup.WrapUp(
            disposition=body.disposition,
            notes=body.notes,
            suggestion=body.suggestion,
            callback_at=at,
        )
        author = (caller.user_id, caller.display_name)
        record = await wrapup.save(session, call, wrap, author, now, by)
        detail = {
            "disposition": body.disposition,
            "notes": bool(body.notes),
            "suggestion": bool(body.suggestion),
            "callback": at.isoformat() if at else None,
        }
        event = audit.Event("call.wrapup", target=f"call:{call_id}", detail=detail)
        await audit.append(session, caller.actor, event, deps.clock())
    if body.ready:
        board.ready(endpoint)  # ends after-call work only: a pause stays a pause
    return _out(record, rules)


def may_read(caller: Principal, call: Call, record: wrapup.WrapUpRecord | None) -> bool:
    """Tell whether CALLER may read a wrap-up RECORD of CALL: the call is in their scope, or the
    wrap-up is (its agent, who handed the call on by a transfer; its department's
    supervisors)."""
    return caller.can_see(call) or (record is not None and caller.can_see(record.wrapup))


async def _readable(
    caller: Principal, request: Request, call_id: str, action: str
) -> list[wrapup.WrapUpRecord]:
    """Return the wrap-ups of CALL_ID that CALLER may read (NotFoundError when neither the call
    nor any of them is theirs), auditing a read of some as ACTION."""
    deps = deps_of(request)
    async with deps.db.write() as session:
        call = await _call(session, call_id)
        records = await wrapup.of_call(session, call_id)
        readable = [record for record in records if may_read(caller, call, record)]
        if not readable and not may_read(caller, call, None):
            raise NotFoundError(f"no call {call_id!r}")
        if readable:
            detail = {"agents": [record.wrapup.agent_endpoint for record in readable]}
            event = audit.Event(action, target=f"call:{call_id}", detail=detail)
            await audit.append(session, caller.actor, event, deps.clock())
    return readable


@router.get("/api/calls/{call_id}/wrapup", name="wrapup.show", response_model=WrapUpOut)
async def show_wrapup(caller: Caller, request: Request, call_id: CallId) -> WrapUpOut:
    """Return a call's wrap-up: an agent's own one, else the first one filed that the caller
    may read (agents: their own calls; supervisors: their departments)."""
    readable = await _readable(caller, request, call_id, "call.wrapup_read")
    record = wrapup.of_agent(readable, caller.agent_endpoint) or next(iter(readable), None)
    if record is None:
        raise NotFoundError(f"call {call_id} has no wrap-up yet")
    return _out(record, center_of(request).rules())


@router.get("/api/calls/{call_id}/wrapups", name="wrapup.list", response_model=list[WrapUpOut])
async def list_wrapups(caller: Caller, request: Request, call_id: CallId) -> list[WrapUpOut]:
    """Return all wrap-ups of a call the caller may read, one per agent, oldest first (after a
    transfer: the agent who handed it on and the one who took it over)."""
    readable = await _readable(caller, request, call_id, "call.wrapups_read")
    rules = center_of(request).rules()
    return [_out(record, rules) for record in readable]


@router.get("/api/agent/callbacks", name="agent.callbacks", response_model=list[CallbackOut])
async def my_callbacks(caller: Caller, request: Request) -> list[CallbackOut]:
    """Return the signed-in agent's open callbacks, soonest first."""
    center = center_of(request)
    endpoint = agent_endpoint(caller, center.services.queues.board)
    async with deps_of(request).db.read() as session:
        rows = await wrapup.callbacks_of(session, endpoint)
    return [CallbackOut.of(row) for row in rows]


@router.delete(
    "/api/agent/callbacks/{callback_id}",
    name="agent.callback_cancel",
    response_model=CallbackOut,
)
async def cancel_callback(caller: Caller, request: Request, callback_id: CallbackId) -> CallbackOut:
    """Cancel one of the signed-in agent's scheduled callbacks."""
    center = center_of(request)
    endpoint = agent_endpoint(caller, center.services.queues.board)
    deps = deps_of(request)
    async with deps.db.write() as session:
        row = await wrapup.cancel(session, callback_id, endpoint, deps.clock())
        event = audit.Event("callback.cancel", target=f"call:{row.call_id}", detail={"id": row.id})
        await audit.append(session, caller.actor, event, deps.clock())
    return CallbackOut.of(row)


def wrapup_routers(center: CallCenter, deps: Deps) -> list[APIRouter]:
    """Return the wrap-up routes, binding CENTER (and the QA service's DEPS) to each request."""
    outer = APIRouter(dependencies=[Depends(bind_center(center, deps))])
    outer.include_router(router)
    return [outer]
