"""What the daemon's live-call routes share: the call centre bound to each request
(`routes_agent`, `routes_calls`, `routes_knowledge`, `routes_supervise`, `routes_transfer`,
`routes_wrapup`) and the signed-in agent's endpoint.

An API replica (`zentrale api serve` on PostgreSQL) mounts the same routes on a call centre
without telephony: its board is empty, so every agent and call is another node's and requests
are forwarded there; what only a node running calls can do is refused with
`NoTelephonyError` (409 `no-telephony`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from zentrale.api.deps import Deps
from zentrale.base.errors import ConflictError, ForbiddenError, NotFoundError
from zentrale.core.principal import Principal
from zentrale.ops.live import LiveNodes
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


class NoTelephonyError(ConflictError):
    """This node runs no calls (an API replica): a node with telephony must do it."""

    code = "no-telephony"


def needs_telephony(request: Request, what: str) -> None:
    """Refuse WHAT on a node without telephony (an API replica), naming the way out."""
    if not getattr(request.state, "telephony", True):
        raise NoTelephonyError(
            f"{what}: this node is an API replica and runs no calls; "
            "ask a node that runs them (zentrale run)"
        )


class AgentOnOtherNodeError(ConflictError):
    """The agent is rung by another node: their workspace is on that node."""

    code = "agent-on-other-node"


def live_of(request: Request) -> LiveNodes | None:
    """Return the other nodes' live rows the daemon bound to this request (several nodes)."""
    live: LiveNodes | None = getattr(request.state, "live", None)
    return live


def agent_endpoint(caller: Principal, board: AgentBoard, live: LiveNodes | None = None) -> str:
    """Return the signed-in agent's endpoint, which must be an agent of the routing rules
    (of this node; one LIVE names another node's is referred there)."""
    if caller.agent_endpoint is None:
        raise ForbiddenError("this agent account has no phone (agent_endpoint) set")
    try:
        board.view(caller.agent_endpoint)
    except KeyError:
        found = live.home_of_agent(caller.agent_endpoint) if live is not None else None
        if found is not None:
            where = f" ({found['url']}/agent)" if found.get("url") else ""
            raise AgentOnOtherNodeError(
                f"agent {caller.agent_endpoint} is rung by node {found['node']}: "
                f"open your workspace there{where}"
            ) from None
        raise NotFoundError(f"no agent {caller.agent_endpoint} in the routing rules") from None
    return caller.agent_endpoint
