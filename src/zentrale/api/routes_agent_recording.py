"""Pausing the recording from the agent's workspace, while the customer gives card data.

The signed-in agent acts on the conversation connected to their own phone (an inbound call or
their click-to-call): `Conversation.pause()` stops what is recorded and keeps a pause marker
with the stored recording, `resume()` goes on. Each change is audited; without a connected
call or a running recording the answer is a 409 saying which. With several nodes, asked on a
node that does not ring the agent, the request is carried out by the node that does
(`api.forwarding`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.forwarding import agent_elsewhere, forward, serve
from zentrale.api.workspace import agent_endpoint, bind_center, center_of, live_of
from zentrale.base.errors import ConflictError
from zentrale.core import audit
from zentrale.core.principal import Principal
from zentrale.ops.live import LiveNodes
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.conversation import Conversation

router = APIRouter(prefix="/api/agent", tags=["agent"])


class NotRecordingError(ConflictError):
    """The agent's call is not being recorded, so there is nothing to pause."""

    code = "not-recording"


class RecordingIn(BaseModel):
    """Pause (true) or resume (false) the recording of the agent's call."""

    model_config = ConfigDict(extra="forbid")
    paused: bool


class RecordingOut(BaseModel):
    """The recording of the agent's call: whether it runs, and whether it is paused."""

    call_id: str
    recording: bool
    paused: bool


def _out(call_id: str, conversation: Conversation) -> RecordingOut:
    recording = conversation.recording is not None
    return RecordingOut(call_id=call_id, recording=recording, paused=conversation.paused)


@router.get("/recording", name="agent.recording", response_model=RecordingOut)
async def recording_state(caller: Caller, request: Request) -> RecordingOut | Response:
    """Return whether the recording of the agent's connected call runs or is paused."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        return await forward(request, caller, node, "agent.recording", {})
    return _recording(caller, center, live_of(request))


def _recording(caller: Principal, center: CallCenter, live: LiveNodes | None) -> RecordingOut:
    endpoint = agent_endpoint(caller, center.services.queues.board, live)
    return _out(*center.conversation_of(endpoint))


@router.post("/recording", name="agent.set_recording", response_model=RecordingOut)
async def set_recording(
    caller: Caller, request: Request, body: RecordingIn
) -> RecordingOut | Response:
    """Pause or resume the recording of the call connected to the agent's phone."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        return await forward(request, caller, node, "agent.set_recording", body.model_dump())
    return await _set_recording(caller, center, deps_of(request), body, live_of(request))


async def _set_recording(
    caller: Principal, center: CallCenter, deps: Deps, body: RecordingIn, live: LiveNodes | None
) -> RecordingOut:
    endpoint = agent_endpoint(caller, center.services.queues.board, live)
    call_id, conversation = center.conversation_of(endpoint)
    if conversation.recording is None:
        raise NotRecordingError(f"call {call_id} is not being recorded: nothing to pause or resume")
    if body.paused:
        await conversation.pause()
    else:
        await conversation.resume()
    action = "recording_paused" if body.paused else "recording_resumed"
    event = audit.Event(f"call.{action}", target=f"call:{call_id}", detail={"agent": endpoint})
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return _out(call_id, conversation)


def recording_routers(
    center: CallCenter, deps: Deps, live: LiveNodes | None = None
) -> list[APIRouter]:
    """Return the recording routes, binding CENTER (the QA service's DEPS, and with several
    nodes the other nodes' LIVE rows) to each request; answer the requests other nodes
    forward."""
    outer = APIRouter(dependencies=[Depends(bind_center(center, deps, live=live))])
    outer.include_router(router)
    if live is not None and live.forwarder is not None:

        async def state(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
            return _recording(caller, center, live)

        async def change(caller: Principal, payload: dict[str, Any]) -> BaseModel:
            body = RecordingIn.model_validate(payload)
            return await _set_recording(caller, center, deps, body, live)

        serve(live.forwarder, deps, "agent.recording", state)
        serve(live.forwarder, deps, "agent.set_recording", change)
    return [outer]
