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
import json
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.forwarding import agent_elsewhere, forward, serve
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
from zentrale.db.bus import MAX_PAYLOAD
from zentrale.ops.forward import Forwarder, ForwardTooLargeError
from zentrale.ops.live import LiveNodes
from zentrale.routing.rules import Rules
from zentrale.telephony.callbacks import CallingHours
from zentrale.telephony.callcenter import CallCenter

router = APIRouter(tags=["agent"])
CallId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
CallbackId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
Text = Annotated[str, Field(max_length=4000, pattern=NO_NUL)]
FORWARD_BYTES = MAX_PAYLOAD - 2000
"""The largest wrap-up (as JSON) saved through another node: the answer repeats its notes and
suggestion with up to 2,000 bytes more (labels, callbacks, the bus's envelope)."""


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
async def dispositions(caller: Caller, request: Request) -> DispositionsOut | Response:
    """Return the disposition codes of the departments the signed-in agent sits in."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        return await forward(request, caller, node, "agent.dispositions", {})
    return _dispositions(caller, center)


def _dispositions(caller: Principal, center: CallCenter) -> DispositionsOut:
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
) -> WrapUpOut | Response:
    """Wrap up a call the signed-in agent took: disposition, notes, suggestion, callback."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        payload = {"call_id": call_id, "body": body.model_dump(mode="json")}
        size = len(json.dumps(payload, separators=(",", ":")).encode())
        if size > FORWARD_BYTES:  # its answer, carrying the same text, would not fit the bus
            raise ForwardTooLargeError(
                f"this wrap-up ({size} bytes) is too long to save through this node: shorten "
                f"the notes or the suggestion, or save it on node {node}, which rings you"
            )
        return await forward(request, caller, node, "wrapup.save", payload)
    return await _save(caller, center, deps_of(request), call_id, body)


async def _save(
    caller: Principal, center: CallCenter, deps: Deps, call_id: str, body: WrapUpIn
) -> WrapUpOut:
    board = center.services.queues.board
    endpoint = agent_endpoint(caller, board)
    rules = center.rules()
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
    caller: Principal,
    request: Request,
    call_id: str,
    action: str,
    pick: Callable[[list[wrapup.WrapUpRecord]], list[wrapup.WrapUpRecord]] = lambda found: found,
) -> list[wrapup.WrapUpRecord]:
    """Return the wrap-ups of CALL_ID that CALLER may read, narrowed by PICK (NotFoundError when
    neither the call nor any of them is theirs), auditing the read of those returned as ACTION."""
    deps = deps_of(request)
    async with deps.db.write() as session:
        call = await _call(session, call_id)
        records = await wrapup.of_call(session, call_id)
        readable = [record for record in records if may_read(caller, call, record)]
        if not readable and not may_read(caller, call, None):
            raise NotFoundError(f"no call {call_id!r}")
        returned = pick(readable)
        if returned:
            detail = {"agents": [record.wrapup.agent_endpoint for record in returned]}
            event = audit.Event(action, target=f"call:{call_id}", detail=detail)
            await audit.append(session, caller.actor, event, deps.clock())
    return returned


@router.get("/api/calls/{call_id}/wrapup", name="wrapup.show", response_model=WrapUpOut)
async def show_wrapup(caller: Caller, request: Request, call_id: CallId) -> WrapUpOut:
    """Return a call's wrap-up: an agent's own one, else the first one filed that the caller
    may read (agents: their own calls; supervisors: their departments)."""

    def one(readable: list[wrapup.WrapUpRecord]) -> list[wrapup.WrapUpRecord]:
        record = wrapup.of_agent(readable, caller.agent_endpoint) or next(iter(readable), None)
        return [record] if record is not None else []

    shown = await _readable(caller, request, call_id, "call.wrapup_read", one)
    if not shown:
        raise NotFoundError(f"call {call_id} has no wrap-up yet")
    return _out(shown[0], center_of(request).rules())


@router.get("/api/calls/{call_id}/wrapups", name="wrapup.list", response_model=list[WrapUpOut])
async def list_wrapups(caller: Caller, request: Request, call_id: CallId) -> list[WrapUpOut]:
    """Return all wrap-ups of a call the caller may read, one per agent, oldest first (after a
    transfer: the agent who handed it on and the one who took it over)."""
    readable = await _readable(caller, request, call_id, "call.wrapups_read")
    rules = center_of(request).rules()
    return [_out(record, rules) for record in readable]


@router.get("/api/agent/callbacks", name="agent.callbacks", response_model=list[CallbackOut])
async def my_callbacks(caller: Caller, request: Request) -> list[CallbackOut] | Response:
    """Return the signed-in agent's open callbacks, soonest first."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        return _unlisted(await forward(request, caller, node, "agent.callbacks", {}))
    return await _callbacks(caller, center, deps_of(request))


class _Listed(BaseModel):
    """The agent's callbacks as they cross the bus (which carries JSON objects, not lists)."""

    items: list[CallbackOut]


def _unlisted(response: JSONResponse) -> Response:
    """Return a forwarded `_Listed` answer as the list itself (an error as it is)."""
    if response.status_code != 200:
        return response
    items = json.loads(bytes(response.body))["items"]
    node = response.headers["X-Zentrale-Node"]
    return JSONResponse(items, headers={"X-Zentrale-Node": node})


async def _callbacks(caller: Principal, center: CallCenter, deps: Deps) -> list[CallbackOut]:
    endpoint = agent_endpoint(caller, center.services.queues.board)
    async with deps.db.read() as session:
        rows = await wrapup.callbacks_of(session, endpoint)
    return [CallbackOut.of(row) for row in rows]


@router.delete(
    "/api/agent/callbacks/{callback_id}",
    name="agent.callback_cancel",
    response_model=CallbackOut,
)
async def cancel_callback(
    caller: Caller, request: Request, callback_id: CallbackId
) -> CallbackOut | Response:
    """Cancel one of the signed-in agent's scheduled callbacks."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        payload = {"callback_id": callback_id}
        return await forward(request, caller, node, "agent.callback_cancel", payload)
    return await _cancel(caller, center, deps_of(request), callback_id)


async def _cancel(
    caller: Principal, center: CallCenter, deps: Deps, callback_id: str
) -> CallbackOut:
    endpoint = agent_endpoint(caller, center.services.queues.board)
    async with deps.db.write() as session:
        row = await wrapup.cancel(session, callback_id, endpoint, deps.clock())
        event = audit.Event("callback.cancel", target=f"call:{row.call_id}", detail={"id": row.id})
        await audit.append(session, caller.actor, event, deps.clock())
    return CallbackOut.of(row)


def wrapup_routers(
    center: CallCenter, deps: Deps, live: LiveNodes | None = None
) -> list[APIRouter]:
    """Return the wrap-up routes, binding CENTER (the QA service's DEPS, and with several nodes
    the other nodes' LIVE rows) to each request; answer the agent's wrap-up requests other
    nodes forward for this node's agents."""
    outer = APIRouter(dependencies=[Depends(bind_center(center, deps, live=live))])
    outer.include_router(router)
    if live is not None and live.forwarder is not None:
        serve_wrapups(live.forwarder, center, deps)
    return [outer]


def serve_wrapups(forwarder: Forwarder, center: CallCenter, deps: Deps) -> None:
    """Answer the wrap-up requests of this node's agents that other nodes forward (the same
    code, checks and audit entries as for a request here)."""

    async def codes(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
        return _dispositions(caller, center)

    async def save(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        call_id = TypeAdapter(CallId).validate_python(payload.get("call_id"))
        return await _save(caller, center, deps, call_id, WrapUpIn.model_validate(payload["body"]))

    async def callbacks(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
        return _Listed(items=await _callbacks(caller, center, deps))

    async def cancel(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        callback_id = TypeAdapter(CallbackId).validate_python(payload.get("callback_id"))
        return await _cancel(caller, center, deps, callback_id)

    serve(forwarder, deps, "agent.dispositions", codes)
    serve(forwarder, deps, "wrapup.save", save)
    serve(forwarder, deps, "agent.callbacks", callbacks)
    serve(forwarder, deps, "agent.callback_cancel", cancel)
