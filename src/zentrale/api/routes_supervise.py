"""The supervisors' page inside the daemon: agents and queues live, and listen / whisper / barge.

`/supervise` follows a server-sent event stream (no polling) of `telephony.supervision`'s
snapshot: every agent's state and time in it (a pause with its reason), the call an agent is
on and its duration, and per department the callers waiting and the longest wait. Supervisors
see the departments they are given (`users.departments`), administrators all.

`POST /api/supervise/calls/{id}/monitor` rings the signed-in user's own phone (their
`agent_endpoint`) and joins it to the agent's call in a mode (`telephony.monitor`); the session
can switch mode and be stopped. A supervisor may monitor calls of their departments only (403
otherwise, entered in the audit log as `access.denied` by the edge) and switch or stop their
own sessions; administrators any. Every start, switch and stop is audited (who, which call and
agent, the mode), and so is a session's end when the call or the supervisor's phone ends it.

With several nodes (`ops.live`), the page shows every node's agents, each row naming its node;
a call another node carries is monitored by that node: asked here, the request (and a switch or
stop of that session) is forwarded over the bus (`api.forwarding`) and that node's answer is
this one's; 504 `node-unreachable` when it does not answer. Without the bus's forwarder the
answer stays 409 `call-on-other-node`, naming the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.forwarding import call_elsewhere, forward, serve
from zentrale.api.web.render import render
from zentrale.api.workspace import bind_center, center_of, live_of
from zentrale.base.errors import ConflictError, ForbiddenError, NotFoundError
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.db.session import Database
from zentrale.ops.forward import TIMEOUT, Forwarder
from zentrale.ops.live import LiveNodes, center_snapshot, merged
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.monitor import Mode, Session, Target, in_recording, in_scope

router = APIRouter(tags=["supervise"])
STREAM_SECONDS = 60.0
"""An event stream ends after this long (the browser reconnects), so a stopping daemon is never
held up by an open page."""
TICK_SECONDS = 1.0
CallId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
SessionId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
Departments = Callable[[], dict[str, list[str]]]


class MonitorIn(BaseModel):
    """How to take part in the agent's call."""

    model_config = ConfigDict(extra="forbid")
    mode: Mode


class CallIdIn(BaseModel):
    """The call a forwarded monitor request names (checked as the path is)."""

    call_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class SessionIdIn(BaseModel):
    """The session a forwarded switch or stop names (checked as the path is)."""

    session_id: str = Field(pattern=r"^[0-9a-f]{16}$")


class MonitorOut(BaseModel):
    """A running monitor session."""

    id: str
    call_id: str
    agent: str
    department: str | None
    supervisor: str
    mode: Mode
    seconds: int
    recorded: bool
    """Whether the supervisor's voice reaches the call's mixed recording (barge only)."""


def _scope(caller: Principal) -> Sequence[str] | None:
    return None if caller.role is Role.ADMIN else tuple(caller.departments)


def _snapshot(request: Request, caller: Principal) -> dict[str, Any]:
    departments: Departments = request.state.departments
    own = center_snapshot(center_of(request), departments, _scope(caller))
    live = live_of(request)
    if live is None:
        return own
    return merged(own, live.node, live, _scope(caller))


def _out(session: Session) -> MonitorOut:
    return MonitorOut.model_validate({**session.as_json(), "recorded": in_recording(session.mode)})


@router.get("/supervise", name="web.supervise", include_in_schema=False)
async def supervise_page(caller: Caller, request: Request) -> Response:
    """The supervisors' page: agents, calls and queues, live."""
    return render(request, "supervise.html", caller=caller, board=_snapshot(request, caller))


@router.get("/api/supervise", name="supervise.show")
async def supervise_json(caller: Caller, request: Request) -> dict[str, Any]:
    """Return the agents and queues in the caller's departments now."""
    return _snapshot(request, caller)


@router.get("/api/supervise/events", name="supervise.events")
async def supervise_events(caller: Caller, request: Request) -> StreamingResponse:
    """Stream the agents and queues as server-sent events, one whenever they change."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    stream = _events(request, caller)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _events(request: Request, caller: Principal) -> AsyncIterator[str]:
    board = center_of(request).services.queues.board
    yield "retry: 1000\n\n"
    last, until = "", time.monotonic() + STREAM_SECONDS
    while time.monotonic() < until and not await request.is_disconnected():
        text = json.dumps(_snapshot(request, caller), separators=(",", ":"))
        if text != last:
            last = text
            yield f"data: {text}\n\n"
        await _changed(board.wait_change, live_of(request))


async def _changed(board: Callable[[float], Awaitable[None]], live: LiveNodes | None) -> None:
    """Return when this node's board or (with several nodes) another node changed, or a tick."""
    waits = [asyncio.ensure_future(board(TICK_SECONDS))]
    if live is not None:
        waits.append(asyncio.ensure_future(live.wait_change(TICK_SECONDS)))
    _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@router.post(
    "/api/supervise/calls/{call_id}/monitor",
    name="supervise.monitor",
    response_model=MonitorOut,
    status_code=201,
)
async def monitor_call(
    caller: Caller, request: Request, call_id: CallId, body: MonitorIn
) -> MonitorOut | Response:
    """Ring the caller's own phone and join it to the agent's call: listen, whisper or barge."""
    center = center_of(request)
    inbound = center.active.get(call_id)
    if inbound is None or inbound.agent_leg is None or inbound.agent_endpoint is None:
        node = call_elsewhere(request, call_id)
        if node is not None:  # it rings the supervisor's phone first: allow for that
            payload = {"call_id": call_id, **body.model_dump(mode="json")}
            seconds = center.monitors.ring_seconds + TIMEOUT
            return await forward(request, caller, node, "supervise.monitor", payload, seconds)
    return await _monitor(caller, center, deps_of(request), call_id, body, live_of(request))


async def _monitor(
    caller: Principal,
    center: CallCenter,
    deps: Deps,
    call_id: str,
    body: MonitorIn,
    live: LiveNodes | None,
) -> MonitorOut:
    inbound = center.active.get(call_id)
    if inbound is None or inbound.agent_leg is None or inbound.agent_endpoint is None:
        _on_other_node(live, call_id)
        raise NotFoundError(f"no call {call_id} connected to an agent here")
    if not in_scope(_scope(caller), inbound.department):
        raise ForbiddenError(f"call {call_id} is not in your departments")
    if caller.agent_endpoint is None:
        raise ForbiddenError("your account has no phone (agent_endpoint) to be rung on")
    target = Target(call_id, inbound.agent_leg, inbound.agent_endpoint, inbound.department)
    await _audit(deps.db, caller, "monitor.start", target, body.mode, deps.clock)
    session = await center.monitors.start(
        target,
        body.mode,
        supervisor=caller.username,
        endpoint=caller.agent_endpoint,
        user_id=caller.user_id,
    )
    return _out(session)


def _session_elsewhere(request: Request, session_id: str) -> str | None:
    """Return the other node running SESSION_ID, when it is not here and can be asked there."""
    live = live_of(request)
    if live is None or live.forwarder is None:
        return None
    if session_id in center_of(request).monitors.sessions:
        return None
    found = live.node_of_session(session_id)
    return str(found["node"]) if found is not None else None


@router.put(
    "/api/supervise/monitors/{session_id}", name="supervise.switch", response_model=MonitorOut
)
async def switch_monitor(
    caller: Caller, request: Request, session_id: SessionId, body: MonitorIn
) -> MonitorOut | Response:
    """Switch a running session to another mode."""
    node = _session_elsewhere(request, session_id)
    if node is not None:
        payload = {"session_id": session_id, **body.model_dump(mode="json")}
        return await forward(request, caller, node, "supervise.switch", payload)
    return await _switch(caller, center_of(request), deps_of(request), session_id, body)


async def _switch(
    caller: Principal, center: CallCenter, deps: Deps, session_id: str, body: MonitorIn
) -> MonitorOut:
    session = _own(caller, center, session_id)
    await _audit(deps.db, caller, "monitor.switch", session.target, body.mode, deps.clock)
    return _out(await center.monitors.switch(session_id, body.mode))


@router.delete(
    "/api/supervise/monitors/{session_id}", name="supervise.stop", response_model=MonitorOut
)
async def stop_monitor(
    caller: Caller, request: Request, session_id: SessionId
) -> MonitorOut | Response:
    """Stop a running session: the supervisor's phone is hung up."""
    node = _session_elsewhere(request, session_id)
    if node is not None:
        return await forward(request, caller, node, "supervise.stop", {"session_id": session_id})
    return await _stop(caller, center_of(request), deps_of(request), session_id)


async def _stop(caller: Principal, center: CallCenter, deps: Deps, session_id: str) -> MonitorOut:
    session = _own(caller, center, session_id)
    await _audit(deps.db, caller, "monitor.stop", session.target, session.mode, deps.clock)
    return _out(await center.monitors.stop(session_id))


class OtherNodeError(ConflictError):
    """The call is carried by another node: monitor it from that node."""

    code = "call-on-other-node"


def _on_other_node(live: LiveNodes | None, call_id: str) -> None:
    """Refuse to monitor a call another node carries, naming that node (and its address)."""
    found = live.node_of_call(call_id) if live is not None else None
    if found is not None:
        where = f" ({found['url']}/supervise)" if found.get("url") else ""
        raise OtherNodeError(
            f"call {call_id} is carried by node {found['node']}: listen, whisper or barge "
            f"from that node's supervisors' page{where}"
        )


def _own(caller: Principal, center: CallCenter, session_id: str) -> Session:
    """Return the session, if it is the caller's (administrators: any)."""
    session = center.monitors.get(session_id)
    if caller.role is not Role.ADMIN and session.supervisor != caller.username:
        raise ForbiddenError(f"monitor session {session_id} is not yours")
    return session


async def _audit(
    db: Database,
    caller: Principal,
    action: str,
    target: Target,
    mode: Mode,
    clock: Callable[[], Any],
) -> None:
    detail = {"agent": target.agent_endpoint, "department": target.department, "mode": str(mode)}
    event = audit.Event(action, target=f"call:{target.call_id}", detail=detail)
    await audit.record(db, caller.actor, event, clock())


def supervise_routers(
    center: CallCenter, deps: Deps, departments: Departments, live: LiveNodes | None = None
) -> list[APIRouter]:
    """Return the supervisors' routes, binding CENTER, the QA service's DEPS, the live rules'
    DEPARTMENTS (name -> agents' endpoints) and the other nodes (LIVE, with several) to each
    request; audit sessions' ends."""
    center.monitors.on_end(_audit_end(deps))
    bound = bind_center(center, deps, departments=departments, live=live)
    outer = APIRouter(dependencies=[Depends(bound)])
    outer.include_router(router)
    if live is not None and live.forwarder is not None:
        _serve(live.forwarder, center, deps, live)
    return [outer]


def _serve(forwarder: Forwarder, center: CallCenter, deps: Deps, live: LiveNodes) -> None:
    """Answer the monitor requests other nodes forward for this node's calls and sessions."""

    async def monitor(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        call_id = str(CallIdIn.model_validate(payload).call_id)
        body = MonitorIn.model_validate({"mode": payload.get("mode")})
        return await _monitor(caller, center, deps, call_id, body, live)

    async def switch(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        session_id = SessionIdIn.model_validate(payload).session_id
        body = MonitorIn.model_validate({"mode": payload.get("mode")})
        return await _switch(caller, center, deps, session_id, body)

    async def stop(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        session_id = SessionIdIn.model_validate(payload).session_id
        return await _stop(caller, center, deps, session_id)

    serve(forwarder, deps, "supervise.monitor", monitor, status=201)
    serve(forwarder, deps, "supervise.switch", switch)
    serve(forwarder, deps, "supervise.stop", stop)


def _audit_end(deps: Deps) -> Callable[[Session], Awaitable[None]]:
    async def ended(session: Session) -> None:
        actor = audit.Actor(session.user_id, session.supervisor, None)
        detail = {
            "agent": session.target.agent_endpoint,
            "mode": str(session.mode),
            "reason": session.end_reason,
            "seconds": int(time.monotonic() - session.started),
        }
        event = audit.Event("monitor.ended", target=f"call:{session.target.call_id}", detail=detail)
        await audit.record(deps.db, actor, event, deps.clock())

    return ended
