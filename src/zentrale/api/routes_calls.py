"""API routes for live calls and agents: click-to-call, blind transfer, pause, who is doing what.

They exist only inside the daemon, which runs the calls; `calls_routers(center)` binds the
daemon's call centre to each request. Supervisors and administrators act on any call or agent;
an agent places calls from, transfers calls of, and pauses only their own phone. Every change
is written to the audit log; phone numbers in listings are masked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.forwarding import call_elsewhere, forward, serve
from zentrale.api.text import NO_NUL
from zentrale.api.workspace import bind_center, center_of, live_of, needs_telephony
from zentrale.base.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from zentrale.config.logging import mask_number
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.ops.forward import Forwarder
from zentrale.ops.live import LiveNodes, shown_once
from zentrale.telephony.callcenter import CallCenter, CallNotActiveError

router = APIRouter(prefix="/api", tags=["calls"])

NUMBER = r"^\+?[0-9]{3,20}$"
ENDPOINT = r"^[A-Za-z0-9]+/[A-Za-z0-9@._+/-]{1,120}$"
CallId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class CallNotConnectedError(ConflictError):
    """The call is not connected to an agent on this node (ended, or still in the IVR)."""

    code = "call-not-connected"


class PlaceIn(BaseModel):
    """A click-to-call: ring the agent first, then the number."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=NUMBER)
    agent: str | None = Field(default=None, pattern=ENDPOINT)
    department: str | None = Field(default=None, max_length=64, pattern=NO_NUL)


class PlaceOut(BaseModel):
    """How the attempt went: answered, busy, no_answer, agent_busy, ..."""

    call_id: str
    result: str


class TransferIn(BaseModel):
    """Where to move a connected call."""

    model_config = ConfigDict(extra="forbid")
    to: Literal["department", "menu", "dial"]
    target: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+.-]+$")


class ActiveCallOut(BaseModel):
    """A call in progress on this node."""

    call_id: str
    caller: str
    state: str
    agent_connected: bool


class AgentOut(BaseModel):
    """An agent as the queues see them."""

    endpoint: str
    name: str
    state: str
    node: str | None = None
    """The node whose board it is (with several nodes)."""


class PauseIn(BaseModel):
    """Take an agent out of rotation, or back in."""

    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(pattern=ENDPOINT)
    paused: bool


def _own_endpoint(caller: Principal, endpoint: str | None) -> str:
    """Return the endpoint an agent may act for (only their own), or the one asked for."""
    if caller.role is Role.AGENT:
        if caller.agent_endpoint is None:
            raise ForbiddenError("this agent account has no phone (agent_endpoint) set")
        if endpoint not in (None, caller.agent_endpoint):
            raise ForbiddenError("agents act only for their own phone")
        return caller.agent_endpoint
    if endpoint is None:
        raise InvalidRequestError("say which agent's phone to ring (agent)")
    return endpoint


@router.post("/calls", name="calls.place", response_model=PlaceOut)
async def place_call(caller: Caller, request: Request, body: PlaceIn) -> PlaceOut:
    """Click-to-call: ring the agent's phone, then the number; answer how it went."""
    agent = _own_endpoint(caller, body.agent)
    needs_telephony(request, "click-to-call")
    deps = deps_of(request)
    event = audit.Event(
        "call.place",
        target=f"number:{mask_number(body.number)}",
        detail={"agent": agent, "department": body.department},
    )
    await audit.record(deps.db, caller.actor, event, deps.clock())
    result = await center_of(request).place(agent, body.number, body.department)
    return PlaceOut(call_id=result.call_id, result=result.result)


class Transferring(BaseModel):
    """A blind transfer under way."""

    status: Literal["transferring"] = "transferring"


@router.post(
    "/calls/{call_id}/transfer", name="calls.transfer", status_code=202, response_model=Transferring
)
async def transfer_call(
    caller: Caller, request: Request, call_id: CallId, body: TransferIn
) -> Transferring | Response:
    """Blind-transfer a connected call to a department, a menu or a number."""
    center = center_of(request)
    if call_id not in center.active:
        node = call_elsewhere(request, call_id)
        if node is not None:
            payload = {"call_id": call_id, "body": body.model_dump()}
            return await forward(request, caller, node, "calls.transfer", payload)
    return await _transfer(caller, center, deps_of(request), call_id, body)


async def _transfer(
    caller: Principal, center: CallCenter, deps: Deps, call_id: str, body: TransferIn
) -> Transferring:
    inbound = center.active.get(call_id)
    if inbound is None:
        raise NotFoundError(f"no call {call_id} in progress here")
    if caller.role is Role.AGENT and inbound.agent_endpoint != caller.agent_endpoint:
        raise NotFoundError(f"no call {call_id} in progress here")
    try:
        await center.transfer(call_id, body.to, body.target)
    except CallNotActiveError as exc:
        raise CallNotConnectedError(str(exc)) from None
    event = audit.Event(
        "call.transfer", target=f"call:{call_id}", detail={"to": body.to, "target": body.target}
    )
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return Transferring()


@router.get("/calls", name="calls.active", response_model=list[ActiveCallOut])
async def active_calls(caller: Caller, request: Request) -> list[ActiveCallOut]:
    """List the calls in progress on this node (callers' numbers masked)."""
    needs_telephony(request, "the calls in progress")
    return [
        ActiveCallOut(
            call_id=call_id,
            caller=mask_number(inbound.caller),
            state=inbound.state_name,
            agent_connected=inbound.agent_leg is not None,
        )
        for call_id, inbound in center_of(request).active.items()
    ]


@router.get("/agents", name="agents.list", response_model=list[AgentOut])
async def agents(caller: Caller, request: Request) -> list[AgentOut]:
    """List the agents of the routing rules and what each is doing (with several nodes:
    every node's, each naming its node)."""
    board = center_of(request).services.queues.board
    live = live_of(request)
    own = [
        {"endpoint": view.endpoint, "name": view.name, "state": str(view.state)}
        for view in board.snapshot()
    ]
    if live is None:
        return [AgentOut.model_validate(row) for row in own]
    return [AgentOut.model_validate(row) for row in everywhere(own, live)]


BOARD_STATES = {
    "available": "idle",
    "paused": "paused",
    "after_call_work": "wrap_up",
    "ringing": "ringing",
    "on_call": "on_call",
    "offline": "offline",
}
"""Another node's agent state (the supervisors' page's word) as `GET /api/agents` says it."""


def everywhere(own: list[dict[str, Any]], live: LiveNodes) -> list[dict[str, Any]]:
    """Return this node's agent rows OWN with the other nodes' (LIVE), each naming its node;
    an agent online on one node is listed there, one offline everywhere once."""
    rows = [{**row, "node": live.node} for row in own]
    rows += [
        {
            "endpoint": row["endpoint"],
            "name": row["name"],
            "state": BOARD_STATES.get(str(row["state"]), str(row["state"])),
            "node": row["node"],
        }
        for row in live.agents(None)
    ]
    return shown_once(rows, live.node)


@router.post("/agents/pause", name="agents.pause", response_model=AgentOut)
async def pause_agent(caller: Caller, request: Request, body: PauseIn) -> AgentOut | Response:
    """Take an agent out of the queues' rotation (paused: true), or back in."""
    endpoint = _own_endpoint(caller, body.endpoint)
    center = center_of(request)
    node = _node_of_agent(request, center, endpoint)
    if node is not None:
        return await forward(request, caller, node, "agents.pause", body.model_dump())
    return await _pause(caller, center, deps_of(request), body)


def _node_of_agent(request: Request, center: CallCenter, endpoint: str) -> str | None:
    """Return the other node that rings ENDPOINT, when requests can be forwarded there."""
    live = live_of(request)
    try:
        center.services.queues.board.view(endpoint)
    except KeyError:
        if live is None or live.forwarder is None:
            return None
        found = live.home_of_agent(endpoint)
        return str(found["node"]) if found is not None else None
    return None


async def _pause(caller: Principal, center: CallCenter, deps: Deps, body: PauseIn) -> AgentOut:
    endpoint = _own_endpoint(caller, body.endpoint)
    board = center.services.queues.board
    try:
        board.pause(endpoint, body.paused)
    except KeyError:
        raise NotFoundError(f"no agent {endpoint} in the routing rules") from None
    event = audit.Event(
        "agent.pause" if body.paused else "agent.unpause", target=f"agent:{endpoint}"
    )
    await audit.record(deps.db, caller.actor, event, deps.clock())
    view = board.view(endpoint)
    return AgentOut(endpoint=view.endpoint, name=view.name, state=str(view.state))


def calls_routers(
    center: CallCenter, deps: Deps, live: LiveNodes | None = None, *, telephony: bool = True
) -> list[APIRouter]:
    """Return the call routes, binding CENTER (the QA service's DEPS, and with several nodes
    the other nodes' LIVE rows) to each request; answer the blind transfers and pauses other
    nodes forward for this node's calls and agents. Without TELEPHONY (an API replica)
    click-to-call and the list of calls in progress are refused (409 `no-telephony`)."""
    bound = bind_center(center, deps, live=live, telephony=telephony)
    outer = APIRouter(dependencies=[Depends(bound)])
    outer.include_router(router)
    if live is not None and live.forwarder is not None:
        serve_calls(live.forwarder, center, deps)
    return [outer]


def serve_calls(forwarder: Forwarder, center: CallCenter, deps: Deps) -> None:
    """Answer the blind transfers and pauses other nodes forward (the same code, scope checks
    and audit entries as for a request here)."""

    async def transfer(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        call_id = TypeAdapter(CallId).validate_python(payload.get("call_id"))
        body = TransferIn.model_validate(payload.get("body"))
        return await _transfer(caller, center, deps, call_id, body)

    async def pause(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        return await _pause(caller, center, deps, PauseIn.model_validate(payload))

    serve(forwarder, deps, "calls.transfer", transfer, status=202)
    serve(forwarder, deps, "agents.pause", pause)
