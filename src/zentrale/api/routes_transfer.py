"""Transfers from the agent's workspace: blind, and attended (consult, complete, back to caller).

The daemon carries them out over ARI (`telephony.inbound`, `telephony.transfer`), so they work
the same for a browser softphone and a desk phone. An agent acts on the call connected to their
own endpoint; a supervisor (their departments) or an administrator names the call with
`call_id`. Each request is checked against the transfer's state before it reaches the call
(complete without a consultation is a 409 `transfer-wrong-state`), each is audited, and the
timeline gets the transfer's events (who, to whom, blind or attended, how it ended). With
several nodes, asked on a node that does not carry the call, each request (and the list of
targets, from the rules of the agent's node) is forwarded to the node that does
(`api.forwarding`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.forwarding import Run, agent_elsewhere, call_elsewhere, forward, serve
from zentrale.api.workspace import bind_center, center_of
from zentrale.base.errors import InvalidRequestError
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.ops.forward import Forwarder
from zentrale.ops.live import LiveNodes
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.inbound import InboundCall
from zentrale.telephony.transfer import NotOnCallError
from zentrale.telephony.transfer import Request as TransferRequest

router = APIRouter(prefix="/api/agent", tags=["agent"])
CALL_ID = r"^[0-9a-f]{32}$"


class OnCall(BaseModel):
    """Which call: the agent's own (no `call_id`), or one a supervisor names."""

    model_config = ConfigDict(extra="forbid")
    call_id: str | None = Field(default=None, pattern=CALL_ID)


class TransferIn(OnCall):
    """Where a blind transfer or a consultation goes: a department, or an agent's endpoint."""

    to: Literal["department", "agent"]
    target: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_@.+/-]+$")


class TransferStateOut(BaseModel):
    """The call's transfer state and where it can go."""

    call_id: str
    phase: Literal["talking", "ringing", "consulting"]
    target: str | None
    consulted: str | None
    last: str | None
    """How the last consultation ended: completed, cancelled, no_answer, busy, hung_up ..."""


class TargetsOut(BaseModel):
    """What the workspace offers to transfer to."""

    departments: list[str]
    agents: list[dict[str, str]]


def _call(caller: Principal, center: CallCenter, call_id: str | None) -> InboundCall:
    """Return the call CALLER acts on: an agent's own, or the named one in a supervisor's scope."""
    if caller.role is Role.AGENT:
        if caller.agent_endpoint is None:
            raise NotOnCallError("this agent account has no phone (agent_endpoint) set")
        inbound = center.call_of(caller.agent_endpoint)
        if call_id not in (None, inbound.id):
            raise NotOnCallError(f"call {call_id} is not connected to {caller.agent_endpoint}")
        return inbound
    if call_id is None:
        raise InvalidRequestError("call_id: say which call to transfer")
    named = center.active.get(call_id)
    if named is None or named.agent_leg is None or not caller.can_see(named):
        raise NotOnCallError(f"call {call_id} is not connected to an agent here")
    return named


def _state(inbound: InboundCall) -> TransferStateOut:
    return TransferStateOut(call_id=inbound.id, **inbound.transfer.as_json())


async def _ask(
    caller: Principal,
    center: CallCenter,
    deps: Deps,
    call_id: str | None,
    action: str,
    body: TransferIn | None,
) -> TransferStateOut:
    inbound = _call(caller, center, call_id)
    target = center.target(inbound, body.to, body.target) if body is not None else None
    center.ask(inbound, TransferRequest(action, target, by=inbound.agent_endpoint))
    detail = {"to": target.label if target else None, "agent": inbound.agent_endpoint}
    event = audit.Event(f"call.{action}", target=f"call:{inbound.id}", detail=detail)
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return _state(inbound)


def _elsewhere(request: Request, caller: Principal, call_id: str | None) -> str | None:
    """Return the other node that carries the call CALLER acts on, when it can be asked there:
    an agent's own call on the node that rings them, a named call on the node that carries it."""
    center = center_of(request)
    if caller.role is Role.AGENT:
        return agent_elsewhere(request, caller, center.services.queues.board)
    if call_id is None or call_id in center.active:
        return None
    return call_elsewhere(request, call_id)


async def _act(
    caller: Principal,
    request: Request,
    kind: str,
    action: str,
    on: OnCall,
    body: TransferIn | None,
) -> TransferStateOut | Response:
    """Carry out ACTION here, or forward it (as KIND) to the node that carries the call."""
    node = _elsewhere(request, caller, on.call_id)
    if node is not None:
        return await forward(request, caller, node, kind, on.model_dump(mode="json"))
    center, deps = center_of(request), deps_of(request)
    return await _ask(caller, center, deps, on.call_id, action, body)


@router.get("/transfer", name="agent.transfer_state", response_model=TransferStateOut)
async def transfer_state(
    caller: Caller, request: Request, call_id: str | None = None
) -> TransferStateOut | Response:
    """Return the transfer state of the agent's call (or the named one)."""
    node = _elsewhere(request, caller, call_id)
    if node is not None:
        payload = {"call_id": call_id}
        return await forward(request, caller, node, "agent.transfer_state", payload)
    return _state(_call(caller, center_of(request), call_id))


@router.get("/transfer/targets", name="agent.transfer_targets", response_model=TargetsOut)
async def transfer_targets(caller: Caller, request: Request) -> TargetsOut | Response:
    """List the departments and agents of the live rules to transfer to."""
    node = _elsewhere(request, caller, None)
    if node is not None:  # the agent's node: its rules say where its calls can go
        return await forward(request, caller, node, "agent.transfer_targets", {})
    return _targets(caller, center_of(request))


def _targets(caller: Principal, center: CallCenter) -> TargetsOut:
    rules = center.rules().document
    seen: dict[str, str] = {}
    for department in rules.departments.values():
        for agent in department.agents:
            if agent.endpoint != caller.agent_endpoint:
                seen.setdefault(agent.endpoint, agent.name)
    agents = [{"endpoint": endpoint, "name": name} for endpoint, name in seen.items()]
    return TargetsOut(departments=sorted(rules.departments), agents=agents)


@router.post("/transfer", name="agent.transfer", response_model=TransferStateOut, status_code=202)
async def blind_transfer(
    caller: Caller, request: Request, body: TransferIn
) -> TransferStateOut | Response:
    """Blind-transfer the call to a department (its queue) or a named agent."""
    return await _act(caller, request, "agent.transfer", "blind", body, body)


@router.post("/consult", name="agent.consult", response_model=TransferStateOut, status_code=202)
async def consult(
    caller: Caller, request: Request, body: TransferIn
) -> TransferStateOut | Response:
    """Put the caller on hold and ring a department's free agent, or a named agent."""
    return await _act(caller, request, "agent.consult", "consult", body, body)


@router.post(
    "/consult/complete",
    name="agent.consult_complete",
    response_model=TransferStateOut,
    status_code=202,
)
async def complete(caller: Caller, request: Request, body: OnCall) -> TransferStateOut | Response:
    """Hand the caller to the consulted agent; the agent leaves (after-call work)."""
    return await _act(caller, request, "agent.consult_complete", "complete", body, None)


@router.post(
    "/consult/cancel", name="agent.consult_cancel", response_model=TransferStateOut, status_code=202
)
async def cancel(caller: Caller, request: Request, body: OnCall) -> TransferStateOut | Response:
    """End the consultation (or its ringing) and go back to the caller."""
    return await _act(caller, request, "agent.consult_cancel", "cancel", body, None)


def transfer_routers(
    center: CallCenter, deps: Deps, live: LiveNodes | None = None
) -> list[APIRouter]:
    """Return the transfer routes, binding CENTER (the QA service's DEPS, and with several
    nodes the other nodes' LIVE rows) to each request; answer the requests other nodes
    forward for this node's calls."""
    outer = APIRouter(dependencies=[Depends(bind_center(center, deps, live=live))])
    outer.include_router(router)
    if live is not None and live.forwarder is not None:
        _serve(live.forwarder, center, deps)
    return [outer]


def _serve(forwarder: Forwarder, center: CallCenter, deps: Deps) -> None:
    async def state(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        return _state(_call(caller, center, OnCall.model_validate(payload).call_id))

    async def targets(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
        return _targets(caller, center)

    def acting(action: str, model: type[OnCall]) -> Run:
        async def run(caller: Principal, payload: dict[str, Any]) -> BaseModel:
            on = model.model_validate(payload)
            body = on if isinstance(on, TransferIn) else None
            return await _ask(caller, center, deps, on.call_id, action, body)

        return run

    serve(forwarder, deps, "agent.transfer_state", state)
    serve(forwarder, deps, "agent.transfer_targets", targets)
    serve(forwarder, deps, "agent.transfer", acting("blind", TransferIn), status=202)
    serve(forwarder, deps, "agent.consult", acting("consult", TransferIn), status=202)
    serve(forwarder, deps, "agent.consult_complete", acting("complete", OnCall), status=202)
    serve(forwarder, deps, "agent.consult_cancel", acting("cancel", OnCall), status=202)
