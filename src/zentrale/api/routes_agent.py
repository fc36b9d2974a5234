"""The agent's workspace inside the daemon: the `/agent` page, its softphone, state and pops.

An agent signs in and opens `/agent`: the page registers a browser softphone (JsSIP over
Asterisk's WebSocket transport) as the agent's own endpoint, sets the agent available or paused
with a reason from the settings (the queues' board: a paused agent is not rung), and follows a
server-sent event stream that pushes the screen pop when a call rings the agent, the agent's
state when it changes, and the attended transfer's state of the agent's call (`transfer`: the
consultation ringing, answered, completed, or back with the caller and why) when it moves.
Only the agent role has a workspace; everything acts on the signed-in agent's own endpoint.
State changes are audited; the caller's number in a pop is the agent's to see (it is on their
phone's display too) and is never logged. With several nodes, the page opens on any node; on a
node that does not ring the agent, the state and its changes are forwarded over the bus to the
node that does (`api.forwarding`), which audits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.api.agent_remote import next_pop, remote_events, remote_state
from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.forwarding import agent_elsewhere, forward, forwarder_of, serve
from zentrale.api.web.render import render
from zentrale.api.workspace import (
    AgentOnOtherNodeError,
    agent_endpoint,
    bind_center,
    center_of,
    live_of,
)
from zentrale.base.errors import InvalidRequestError, NotFoundError, ZentraleError
from zentrale.config.settings import AgentSettings
from zentrale.core import audit
from zentrale.core.principal import Principal
from zentrale.customers import store as customers
from zentrale.customers.models import NoteKind
from zentrale.customers.numbers import caller_key
from zentrale.db.session import Database
from zentrale.ops.forward import Who
from zentrale.ops.live import LiveNodes, transfer_state
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.screenpop import Pop
from zentrale.telephony.supervision import STATE_WORDS

router = APIRouter(tags=["agent"])
STREAM_SECONDS = 60.0
"""An event stream ends after this long (the browser reconnects), so a stopping daemon is never
held up by an open workspace."""
TICK_SECONDS = 1.0
EARLIER = 3
"""Earlier calls of the customer a screen pop shows."""
_WEBSOCKET = re.compile(r"wss?://[^\s;,'\"]{1,200}")
"""Another node's softphone WebSocket URL as it may enter this page's CSP."""
PAGE_ASK_SECONDS = 2.0
"""How long the page waits for the owning node's softphone URL (else it opens without it)."""


class AgentStateOut(BaseModel):
    """What the agent is doing, as the workspace shows it."""

    endpoint: str
    state: Literal["available", "paused", "after_call_work", "ringing", "on_call", "offline"]
    reason: str | None = None
    reasons: list[str]


class AgentStateIn(BaseModel):
    """Become available (also ends after-call work), or pause with a reason."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["available", "paused"]
    reason: str | None = Field(default=None, max_length=32)


class SoftphoneOut(BaseModel):
    """What the page's softphone registers with."""

    websocket_url: str
    uri: str
    password: str
    display_name: str


class NoSoftphoneError(NotFoundError):
    """The daemon has no password for the browser softphones (agents.sip_password)."""

    code = "no-softphone"


def state_of(board: AgentBoard, endpoint: str, reasons: list[str]) -> AgentStateOut:
    """Return ENDPOINT's state in the workspace's words."""
    view = board.view(endpoint)
    state = STATE_WORDS[view.state]
    if state == "after_call_work" and not board.in_wrap_up(endpoint):
        state = "available"  # the department's wrap-up time is over
    reason = board.reason(endpoint) if state == "paused" else None
    return AgentStateOut(endpoint=endpoint, state=state, reason=reason, reasons=reasons)


@router.get("/agent", name="web.agent", include_in_schema=False)
async def agent_page(caller: Caller, request: Request) -> Response:
    """The agent's workspace: softphone, state and screen pops."""
    center = center_of(request)
    reasons = list(center.services.settings.agents.pause_reasons)
    live = live_of(request)
    there: str | None = None
    try:
        endpoint = agent_endpoint(caller, center.services.queues.board, live)
        state = state_of(center.services.queues.board, endpoint, reasons)
    except AgentOnOtherNodeError:  # another node rings the agent: the page acts through it
        if live is None or live.forwarder is None:
            raise
        remote = remote_state(live, caller.agent_endpoint or "", reasons)
        state = AgentStateOut.model_validate({k: v for k, v in remote.items() if k != "node"})
        if remote["node"] is not None:
            there = await _remote_websocket(request, caller, str(remote["node"]))
    response = render(request, "agent.html", caller=caller, state=state)
    url = center.services.settings.agents.websocket_url
    if there is not None and there != url:
        url = f"{url} {there}"  # the softphone registers with the node that rings the agent
    # The softphone talks to Asterisk's WebSocket: allowed here, on this page only.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' {url}; media-src 'self' blob: mediastream:; "
        "img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    )
    return response


@router.get("/api/agent/softphone", name="agent.softphone", response_model=SoftphoneOut)
async def softphone(caller: Caller, request: Request) -> SoftphoneOut | Response:
    """Return the signed-in agent's softphone registration (WebSocket URL, SIP address): that
    of the node that rings the agent (forwarded there when it is another node)."""
    center = center_of(request)
    board = center.services.queues.board
    node = agent_elsewhere(request, caller, board)
    if node is not None:
        return await forward(request, caller, node, "agent.softphone", {})
    return registration(caller, board, center.services.settings.agents, live_of(request))


def registration(
    caller: Principal, board: AgentBoard, settings: AgentSettings, live: LiveNodes | None
) -> SoftphoneOut:
    """Return CALLER's softphone registration with this node's Asterisk (SETTINGS)."""
    endpoint = agent_endpoint(caller, board, live)
    if settings.sip_password is None:
        raise NoSoftphoneError("no softphone password is set (agents.sip_password)")
    user = endpoint.split("/", 1)[-1]
    return SoftphoneOut(
        websocket_url=settings.websocket_url,
        uri=f"sip:{user}@{settings.sip_domain}",
        password=settings.sip_password.get_secret_value(),
        display_name=caller.display_name,
    )


async def _remote_websocket(request: Request, caller: Principal, node: str) -> str | None:
    """Return the WebSocket URL of NODE's softphones (for the page's CSP), None if unknown."""
    forwarder = forwarder_of(request)
    if forwarder is None:
        return None
    who = Who(caller.user_id, caller.via, caller.address)
    try:
        reply = await forwarder.ask(node, "agent.softphone", who, {}, seconds=PAGE_ASK_SECONDS)
    except ZentraleError:  # the page still opens; its softphone says it cannot register
        return None
    url = reply.body.get("websocket_url") if reply.status == 200 else None
    return url if isinstance(url, str) and _WEBSOCKET.fullmatch(url) else None


@router.get("/api/agent/state", name="agent.state", response_model=AgentStateOut)
async def agent_state(caller: Caller, request: Request) -> AgentStateOut | Response:
    """Return the signed-in agent's state."""
    center = center_of(request)
    board = center.services.queues.board
    node = agent_elsewhere(request, caller, board)
    if node is not None:
        return await forward(request, caller, node, "agent.state", {})
    return await _state(caller, center, live_of(request))


async def _state(caller: Principal, center: CallCenter, live: LiveNodes | None) -> AgentStateOut:
    board = center.services.queues.board
    reasons = list(center.services.settings.agents.pause_reasons)
    return state_of(board, agent_endpoint(caller, board, live), reasons)


@router.post("/api/agent/state", name="agent.set_state", response_model=AgentStateOut)
async def set_agent_state(
    caller: Caller, request: Request, body: AgentStateIn
) -> AgentStateOut | Response:
    """Become available (ending after-call work), or pause with one of the settings' reasons."""
    center = center_of(request)
    node = agent_elsewhere(request, caller, center.services.queues.board)
    if node is not None:
        return await forward(request, caller, node, "agent.set_state", body.model_dump())
    return await _set_state(caller, center, deps_of(request), body, live_of(request))


async def _set_state(
    caller: Principal, center: CallCenter, deps: Deps, body: AgentStateIn, live: LiveNodes | None
) -> AgentStateOut:
    board = center.services.queues.board
    endpoint = agent_endpoint(caller, board, live)
    reasons = list(center.services.settings.agents.pause_reasons)
    if body.state == "paused":
        if body.reason not in reasons:
            raise InvalidRequestError(
                f"reason: say why you pause, one of {', '.join(reasons)} (got {body.reason!r})"
            )
        board.pause(endpoint, True, body.reason)
    else:
        board.pause(endpoint, False)
        board.ready(endpoint)
    event = audit.Event(
        f"agent.{body.state}", target=f"agent:{endpoint}", detail={"reason": body.reason}
    )
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return state_of(board, endpoint, reasons)


@router.get("/api/agent/events", name="agent.events", include_in_schema=False)
async def agent_events(caller: Caller, request: Request) -> StreamingResponse:
    """Stream the agent's screen pops and state changes as server-sent events."""
    center = center_of(request)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    try:
        endpoint = agent_endpoint(caller, center.services.queues.board, live_of(request))
        stream = _events(request, center, endpoint)
    except AgentOnOtherNodeError:  # another node rings this agent: its news come over the bus
        stream = _remote(request, center, caller.agent_endpoint or "")
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _events(request: Request, center: CallCenter, endpoint: str) -> AsyncIterator[str]:
    board, pops = center.services.queues.board, center.services.pops
    reasons = list(center.services.settings.agents.pause_reasons)
    db = deps_of(request).db
    yield "retry: 1000\n\n"
    transfers = center.services.transfers

    async def changed(max_wait: float) -> None:
        # This agent's changes only: a change of any agent woke every workspace before.
        await _first(board.wait_change_of(endpoint, max_wait), transfers.wait_change(max_wait))

    with pops.follow(endpoint) as queue:
        last, moved, until = "", "", time.monotonic() + STREAM_SECONDS
        while time.monotonic() < until and not await request.is_disconnected():
            state = state_of(board, endpoint, reasons).model_dump_json()
            if state != last:
                last = state
                yield f"event: state\ndata: {state}\n\n"
            transfer = json.dumps(transfer_of(center, endpoint), separators=(",", ":"))
            if transfer != moved:
                moved = transfer
                yield f"event: transfer\ndata: {transfer}\n\n"
            pop = await next_pop(queue, changed, TICK_SECONDS)
            if pop is not None:
                body = await _with_customer(db, pop)
                yield f"event: ringing\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def transfer_of(center: CallCenter, endpoint: str) -> dict[str, Any] | None:
    """Return the transfer state of ENDPOINT's call here, as `GET /api/agent/transfer` does
    (None: no call connected); the same state crosses the live bus (`ops.live`)."""
    return transfer_state(center, endpoint)


async def _first(*waits: Awaitable[None]) -> None:
    """Return when the first of WAITS is done; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _remote(request: Request, center: CallCenter, endpoint: str) -> AsyncIterator[str]:
    db, live = deps_of(request).db, live_of(request)
    assert live is not None  # the agent was found on another node through it
    reasons = list(center.services.settings.agents.pause_reasons)

    async def enrich(pop: Pop) -> dict[str, Any]:
        return await _with_customer(db, pop)

    return remote_events(
        request, live, endpoint, reasons, enrich, seconds=STREAM_SECONDS, tick=TICK_SECONDS
    )


async def _with_customer(db: Database, pop: Pop) -> dict[str, Any]:
    """Return POP's event body with the caller's customer record (name, missing fields)."""
    body = pop.as_json()
    key = caller_key(pop.caller)
    if key is None:
        return body
    async with db.read() as session:
        record = await customers.by_number(session, key)
        earlier = await _earlier(session, record, pop) if record is not None else []
    if record is not None:
        body["earlier"] = earlier
        body["customer"] = {
            **body["customer"],
            "id": record.id,
            "name": record.name,
            "customer_number": record.customer_number,
            "language": record.language,
            "email": record.email,
            "vip": record.vip,
            "missing": list(record.missing),
        }
    return body


async def _earlier(
    session: AsyncSession, record: customers.CustomerRecord, pop: Pop
) -> list[dict[str, Any]]:
    """Return the customer's last calls in the ringing call's department, with their
    dispositions and notes (what the agent needs before answering)."""
    scope = customers.Scope(departments=(pop.department,))
    entries = await customers.history(session, record, scope, limit=EARLIER + 1)
    return [
        {
            "call_id": entry.call_id,
            "at": entry.arrived_at.isoformat(),
            "outcome": entry.outcome,
            "agent": entry.agent_name,
            "disposition": next(
                (n.text for n in entry.notes if n.kind is NoteKind.DISPOSITION), None
            ),
            "notes": [n.text for n in entry.notes if n.kind is NoteKind.NOTE],
        }
        for entry in entries
        if entry.call_id != pop.call_id
    ][:EARLIER]


def agent_routers(center: CallCenter, deps: Deps, live: LiveNodes | None = None) -> list[APIRouter]:
    """Return the workspace routes, binding CENTER (the QA service's DEPS, and with several
    nodes the other nodes' LIVE rows) to each request; answer the state requests other nodes
    forward for this node's agents."""
    outer = APIRouter(dependencies=[Depends(bind_center(center, deps, live=live))])
    outer.include_router(router)
    if live is not None and live.forwarder is not None:
        forwarder = live.forwarder

        async def state(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
            return await _state(caller, center, live)

        async def set_state(caller: Principal, payload: dict[str, Any]) -> BaseModel:
            return await _set_state(
                caller, center, deps, AgentStateIn.model_validate(payload), live
            )

        async def softphone(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
            agents = center.services.settings.agents
            return registration(caller, center.services.queues.board, agents, live)

        serve(forwarder, deps, "agent.state", state)
        serve(forwarder, deps, "agent.softphone", softphone)
        serve(forwarder, deps, "agent.set_state", set_state)
    return [outer]
