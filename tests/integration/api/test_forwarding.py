"""A request forwarded from another node is authorised again on the owning node.

The owning node loads the user named in the request from the database (a disabled user is
refused), applies the role matrix to the request's route name (a refusal is audited as
`access.denied`), and runs the route's code with that principal: a role or department in the
payload counts for nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from zentrale.api.deps import Deps
from zentrale.api.forwarding import serve
from zentrale.calls.errors import CallNotFoundError
from zentrale.core.models import AuditEntry
from zentrale.core.principal import Principal
from zentrale.core.users import UserStore
from zentrale.db.bus import LocalBus
from zentrale.ops.forward import Forwarder, Request, Who

from .conftest import World

pytestmark = pytest.mark.asyncio


class Seen(BaseModel):
    username: str
    role: str


def _request(user_id: str, kind: str, payload: dict[str, Any]) -> Request:
    return Request("r1", "node-a", "node-b", kind, Who(user_id, "token", "10.0.0.9"), payload)


async def test_the_owning_node_loads_the_user_and_checks_the_route_for_their_role(
    deps: Deps, world: World
) -> None:
    node = Forwarder(LocalBus(), "node-b", b"k" * 32)
    ran: list[Principal] = []

    async def run(caller: Principal, payload: dict[str, Any]) -> BaseModel:
        ran.append(caller)
        return Seen(username=caller.username, role=caller.role.value)

    serve(node, deps, "agent.set_state", run)
    agent, qa = world.user_ids["agent"], world.user_ids["qa"]

    smuggled = {"role": "admin", "departments": ["support"]}
    reply = await node.answer(_request(agent, "agent.set_state", smuggled))
    assert (reply.status, reply.body) == (200, {"username": "agent", "role": "agent"})
    assert ran[0].agent_endpoint == "PJSIP/1001"  # from the database, not the payload
    assert ran[0].address == "10.0.0.9"

    refused = await node.answer(_request(qa, "agent.set_state", smuggled))
    assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    assert len(ran) == 1
    async with deps.db.read() as session:
        denied = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        )
    assert [(d.actor_name, d.detail["route"], d.detail["method"]) for d in denied] == [
        ("qa", "agent.set_state", "BUS")
    ]

    await UserStore(deps.db, deps.clock).set_disabled("agent")
    gone = await node.answer(_request(agent, "agent.set_state", {}))
    assert (gone.status, gone.body["error"]["code"]) == (401, "not-authenticated")
    unknown = await node.answer(_request("0" * 32, "agent.set_state", {}))
    assert unknown.status == 401
    assert len(ran) == 1


async def test_an_error_of_the_routes_code_keeps_its_status_and_code(
    deps: Deps, world: World
) -> None:
    node = Forwarder(LocalBus(), "node-b", b"k" * 32)

    async def run(_caller: Principal, payload: dict[str, Any]) -> BaseModel:
        return Seen.model_validate(payload)  # a payload that does not fit: 422

    serve(node, deps, "supervise.monitor", run, status=201)
    admin = world.user_ids["admin"]
    bad = await node.answer(_request(admin, "supervise.monitor", {"username": 7}))
    assert (bad.status, bad.body["error"]["code"]) == (422, "invalid-request")
    good = await node.answer(_request(admin, "supervise.monitor", {"username": "x", "role": "y"}))
    assert good.status == 201


async def test_a_not_found_answered_to_a_forwarded_request_is_audited_as_a_local_one_is(
    deps: Deps, world: World
) -> None:
    """Probing for ids through another node shows in the audit log, as on the node itself."""
    node = Forwarder(LocalBus(), "node-b", b"k" * 32)

    async def run(_caller: Principal, _payload: dict[str, Any]) -> BaseModel:
        raise CallNotFoundError("no such call")

    serve(node, deps, "supervise.monitor", run, status=201)
    reply = await node.answer(_request(world.user_ids["admin"], "supervise.monitor", {}))
    assert (reply.status, reply.body["error"]["code"]) == (404, CallNotFoundError.code)
    async with deps.db.read() as session:
        denied = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        )
    assert [(d.detail["route"], d.detail["method"], d.detail["status"]) for d in denied] == [
        ("supervise.monitor", "BUS", 404)
    ]
