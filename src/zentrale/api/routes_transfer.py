"""Transfers from the agent's workspace: blind, and attended (consult, complete, back to caller).

The daemon carries them out over ARI (`telephony.inbound`, `telephony.transfer`), so they work
the same for a browser softphone and a desk phone. An agent acts on the call connected to their
own endpoint; a supervisor (their departments) or an administrator names the call with
`call_id`. Each request is checked against the transfer's state before it reaches the call
(complete without a consultation is a 409 `transfer-wrong-state`), each is audited, and the
timeline gets the transfer's events (who, to whom, blind or attended, how it ended).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.workspace import bind_center, center_of
from zentrale.base.errors import InvalidRequestError
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
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
    caller: Caller, request: Request, call_id: str | None, action: str, body: TransferIn | None
) -> TransferStateOut:
    center = center_of(request)
    inbound = _call(caller, center, call_id)
    target = center.target(inbound, body.to, body.target) if body is not None else None
    center.ask(inbound, TransferRequest(action, target, by=inbound.agent_endpoint))
    deps = deps_of(request)
    detail = {"to": target.label if target else None, "agent": inbound.agent_endpoint}
    event = audit.Event(f"call.{action}", target=f"call:{inbound.id}", detail=detail)
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return _state(inbound)


@router.get("/transfer", name="agent.transfer_state", response_model=TransferStateOut)
async def transfer_state(
    caller: Caller, request: Request, call_id: str | None = None
) -> TransferStateOut:
    """Return the transfer state of the agent's call (or the named one)."""
    return _state(_call(caller, center_of(request), call_id))


@router.get("/transfer/targets", name="agent.transfer_targets", response_model=TargetsOut)
async def transfer_targets(caller: Caller, request: Request) -> TargetsOut:
    """List the departments and agents of the live rules to transfer to."""
    center = center_of(request)
    rules = center.rules().document
    seen: dict[str, str] = {}
    for department in rules.departments.values():
        for agent in department.agents:
            if agent.endpoint != caller.agent_endpoint:
                seen.setdefault(agent.endpoint, agent.name)
    agents = [{"endpoint": endpoint, "name": name} for endpoint, name in seen.items()]
    return TargetsOut(departments=sorted(rules.departments), agents=agents)


@router.post("/transfer", name="agent.transfer", response_model=TransferStateOut, status_code=202)
async def blind_transfer(caller: Caller, request: Request, body: TransferIn) -> TransferStateOut:
    """Blind-transfer the call to a department (its queue) or a named agent."""
    return await _ask(caller, request, body.call_id, "blind", body)


@router.post("/consult", name="agent.consult", response_model=TransferStateOut, status_code=202)
async def consult(caller: Caller, request: Request, body: TransferIn) -> TransferStateOut:
    """Put the caller on hold and ring a department's free agent, or a named agent."""
    return await _ask(caller, request, body.call_id, "consult", body)


@router.post(
    "/consult/complete",
    name="agent.consult_complete",
    response_model=TransferStateOut,
    status_code=202,
)
async def complete(caller: Caller, request: Request, body: OnCall) -> TransferStateOut:
    """Hand the caller to the consulted agent; the agent leaves (after-call work)."""
    return await _ask(caller, request, body.call_id, "complete", None)


@router.post(
    "/consult/cancel", name="agent.consult_cancel", response_model=TransferStateOut, status_code=202
)
async def cancel(caller: Caller, request: Request, body: OnCall) -> TransferStateOut:
    """End the consultation (or its ringing) and go back to the caller."""
    return await _ask(caller, request, body.call_id, "cancel", None)


def transfer_routers(center: CallCenter, deps: Deps) -> list[APIRouter]:
    """Return the transfer routes, binding CENTER (and the QA service's DEPS) to each request."""
    outer = APIRouter(dependencies=[Depends(bind_center(center, deps))])
    outer.include_router(router)
    return [outer]
