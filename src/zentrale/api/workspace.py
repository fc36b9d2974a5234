"""What the daemon's live-call routes share: the call centre bound to each request
(`routes_agent`, `routes_calls`, `routes_knowledge`, `routes_supervise`, `routes_transfer`,
`routes_wrapup`) and the signed-in agent's endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from zentrale.api.deps import Deps
from zentrale.base.errors import ForbiddenError, NotFoundError
from zentrale.core.principal import Principal
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.callcenter import CallCenter


def center_of(request: Request) -> CallCenter:
    """Return the call centre the daemon bound to this request."""
    center: CallCenter = request.state.calls
    return center


def bind_center(
    center: CallCenter, deps: Deps, **extra: object
) -> Callable[[Request], Awaitable[None]]:
    """Return a dependency binding CENTER, the QA service's DEPS and EXTRA (further request
    state by name, e.g. `knowledge=`) to each request."""

    async def bind(request: Request) -> None:
        request.state.calls = center
        request.state.qa = deps
        for name, value in extra.items():
            setattr(request.state, name, value)

    return bind


def agent_endpoint(caller: Principal, board: AgentBoard) -> str:
    """Return the signed-in agent's endpoint, which must be an agent of the routing rules."""
    if caller.agent_endpoint is None:
        raise ForbiddenError("this agent account has no phone (agent_endpoint) set")
    try:
        board.view(caller.agent_endpoint)
    except KeyError:
        raise NotFoundError(f"no agent {caller.agent_endpoint} in the routing rules") from None
    return caller.agent_endpoint
