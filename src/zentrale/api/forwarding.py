"""Several nodes at the HTTP edge: requests for another node's agent or call, forwarded there.

On the node asked (`forward`): the user is authenticated and the route's role checked as for
every request; the request's name, the user's id and a small payload go over the bus
(`ops.forward`) to the node that carries the agent or call, and its answer (status and body,
errors included) is this node's answer. No answer within the timeout: 504 `node-unreachable`.

On the owning node (`serve`): the user is loaded again from the shared database by id (a
disabled or deleted user is refused 401), the role matrix is applied to the request's route
name again, and the same code as for a local request runs with that principal: the same
checks of scope, the same audit entries (a refusal, 403, is entered as `access.denied` with
method `BUS`). The payload carries no role or departments: only the user's id is trusted, as
the bus is reachable only through the shared database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from zentrale.api.denials import AUDITED_STATUSES, Denial, record_denial
from zentrale.api.deps import Deps
from zentrale.api.errors import status_of
from zentrale.api.matrix import allowed
from zentrale.api.workspace import live_of
from zentrale.base.errors import ForbiddenError, NotAuthenticatedError, ZentraleError
from zentrale.core.principal import Principal
from zentrale.core.users import UserStore
from zentrale.ops.forward import TIMEOUT, Forwarder, Reply, Who
from zentrale.telephony.board import AgentBoard

log = structlog.get_logger(__name__)

Run = Callable[[Principal, dict[str, Any]], Awaitable[BaseModel]]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def forwarder_of(request: Request) -> Forwarder | None:
    """Return the bus forwarder bound to this request (several nodes), if any."""
    live = live_of(request)
    return live.forwarder if live is not None else None


def agent_elsewhere(request: Request, caller: Principal, board: AgentBoard) -> str | None:
    """Return the node that rings the caller's phone, when that is another node and requests
    can be forwarded there; else None (the request is handled here)."""
    live, endpoint = live_of(request), caller.agent_endpoint
    if live is None or live.forwarder is None or endpoint is None:
        return None
    try:
        board.view(endpoint)
    except KeyError:
        found = live.home_of_agent(endpoint)
        return str(found["node"]) if found is not None else None
    return None


def call_elsewhere(request: Request, call_id: str) -> str | None:
    """Return the other node whose agent is on CALL_ID, when requests can be forwarded there."""
    live = live_of(request)
    if live is None or live.forwarder is None:
        return None
    found = live.node_of_call(call_id)
    return str(found["node"]) if found is not None else None


async def forward(
    request: Request,
    caller: Principal,
    node: str,
    kind: str,
    payload: dict[str, Any],
    seconds: float = TIMEOUT,
) -> JSONResponse:
    """Send the request KIND (its route's name) with PAYLOAD to NODE; answer with its reply."""
    forwarder = forwarder_of(request)
    assert forwarder is not None  # agent_elsewhere / call_elsewhere found NODE through it
    who = Who(caller.user_id, caller.via, caller.address)
    reply = await forwarder.ask(node, kind, who, payload, seconds)
    return JSONResponse(reply.body, reply.status, headers={"X-Zentrale-Node": node})


def serve(forwarder: Forwarder, deps: Deps, kind: str, run: Run, status: int = 200) -> None:
    """Answer forwarded requests of KIND (a route's name) with RUN, as that route would."""

    async def handler(who: Who, payload: dict[str, Any]) -> Reply:
        user = await UserStore(deps.db, deps.clock).by_id(who.user_id)
        if user is None or user.disabled:
            error = NotAuthenticatedError("the user is unknown or disabled")
            return Reply(401, _error(error.code, error.message))
        principal = Principal.of(user, who.via, who.address)
        try:
            if not allowed(kind, principal.role):
                raise ForbiddenError(f"the role {principal.role.value} may not do this")
            out = await run(principal, payload)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            return Reply(422, _error("invalid-request", f"invalid fields: {fields}"))
        except ZentraleError as exc:
            code = status_of(exc) or 500
            if code in AUDITED_STATUSES:  # as the edge audits a local refusal
                denial = Denial(route=kind, method="BUS", path=kind, status=code, code=exc.code)
                try:
                    await record_denial(deps.db, deps.denials, principal, denial, deps.clock())
                except Exception:  # the refusal is answered even if the database is down
                    log.exception("forward.denial_not_audited", kind=kind)
            return Reply(code, _error(exc.code, exc.message))
        return Reply(status, out.model_dump(mode="json"))

    forwarder.handle(kind, handler)
