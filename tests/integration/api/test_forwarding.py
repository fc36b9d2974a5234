"""A request forwarded from another node is authorised again on the owning node.

The owning node loads the user named in the request from the database (a disabled user is
refused), applies the role matrix to the request's route name (a refusal is audited as
`access.denied`), and runs the route's code with that principal: a role or department in the
payload counts for nothing.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from sqlalchemy import select

from zentrale.api.deps import Deps
from zentrale.api.forwarding import serve
from zentrale.api.routes_agent import registration
from zentrale.api.routes_calls import serve_calls
from zentrale.api.routes_wrapup import serve_wrapups
from zentrale.calls.errors import CallNotFoundError
from zentrale.config.settings import AgentSettings, Settings
from zentrale.core.models import AuditEntry
from zentrale.core.principal import Principal
from zentrale.core.users import UserStore
from zentrale.db.bus import LocalBus
from zentrale.ops.forward import Forwarder, Request, Who
from zentrale.routing.load import parse_rules
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.callcenter import CallCenter
from zentrale.testing.clocks import FakeClock

from .conftest import World

pytestmark = pytest.mark.asyncio
KEY = b"k" * 32


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


async def test_the_softphone_registration_comes_from_the_node_that_rings_the_agent(
    deps: Deps, world: World
) -> None:
    bus = LocalBus()
    here, there = Forwarder(bus, "node-a", KEY), Forwarder(bus, "node-b", KEY)
    board = AgentBoard()
    board.know([("PJSIP/1001", "Agent")])
    agents = [
        AgentSettings(
            websocket_url="wss://b.example/ws", sip_domain="b.example", sip_password=SecretStr("s3")
        )
    ]

    async def softphone(caller: Principal, _payload: dict[str, Any]) -> BaseModel:
        return registration(caller, board, agents[-1], None)

    serve(there, deps, "agent.softphone", softphone)
    tasks = [asyncio.create_task(f.run()) for f in (here, there)]
    await asyncio.sleep(0)  # each subscribes to its channel
    try:
        who = Who(world.user_ids["agent"], "session", "10.0.0.9")
        reply = await here.ask("node-b", "agent.softphone", who, {})
        assert reply.status == 200, reply.body
        assert (reply.body["websocket_url"], reply.body["uri"]) == (
            "wss://b.example/ws",
            "sip:1001@b.example",
        )
        assert reply.body["password"] == "s3"
        qa = Who(world.user_ids["qa"], "token", None)
        refused = await here.ask("node-b", "agent.softphone", qa, {})
        assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
        agents.append(AgentSettings())  # no password: no softphones on node B
        none = await here.ask("node-b", "agent.softphone", who, {})
        assert (none.status, none.body["error"]["code"]) == (404, "no-softphone")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _NoAri:
    """ARI for a call centre that places no calls (only its constructor subscribes)."""

    def on(self, *_args: Any) -> None:
        return None


RULES = """\
version: 1
timezone: Europe/Berlin
languages: {available: [de], default: de, fallback: de}
prompts: {bye: sound:vm-goodbye}
departments:
  sales:
    agents: [{endpoint: "PJSIP/1001", name: Agent}]
    on_max_wait: {play_and_hangup: bye}
    dispositions:
      - {code: sale, label: Sale closed}
entry_rules:
  - name: everyone
    action: {play_and_hangup: bye}
"""


async def test_wrap_ups_of_an_agent_rung_by_another_node_are_saved_there(
    deps: Deps, world: World, settings: Settings, clock: FakeClock
) -> None:
    bus = LocalBus()
    here, there = Forwarder(bus, "node-a", KEY), Forwarder(bus, "node-b", KEY)
    board = AgentBoard()
    board.know([("PJSIP/1001", "Agent")])
    rules = parse_rules(RULES, "routing.yaml")
    queues = SimpleNamespace(board=board)
    services = SimpleNamespace(
        ari=_NoAri(), journal=None, queues=queues, settings=settings, clock=clock
    )
    serve_wrapups(there, CallCenter(services, lambda: rules), deps)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(f.run()) for f in (here, there)]
    await asyncio.sleep(0)  # each subscribes to its channel
    agent = Who(world.user_ids["agent"], "session", "10.0.0.9")
    try:
        codes = await here.ask("node-b", "agent.dispositions", agent, {})
        assert codes.status == 200, codes.body
        assert codes.body["departments"] == {"sales": [{"code": "sale", "label": "Sale closed"}]}
        body = {"disposition": "sale", "notes": "wants a quote", "ready": True}
        saved = await here.ask("node-b", "wrapup.save", agent, {"call_id": "sales1", "body": body})
        assert saved.status == 200, saved.body
        assert (saved.body["agent_endpoint"], saved.body["notes"]) == (
            "PJSIP/1001",
            ["wants a quote"],
        )
        again = await here.ask("node-b", "wrapup.save", agent, {"call_id": "sales1", "body": body})
        assert (again.status, again.body["error"]["code"]) == (409, "wrapup-done")
        bad = await here.ask("node-b", "wrapup.save", agent, {"call_id": "a b", "body": body})
        assert (bad.status, bad.body["error"]["code"]) == (422, "invalid-request")
        listed = await here.ask("node-b", "agent.callbacks", agent, {})
        assert (listed.status, listed.body) == (200, {"items": []})
        qa = Who(world.user_ids["qa"], "token", None)
        refused = await here.ask("node-b", "wrapup.save", qa, {"call_id": "sales1", "body": body})
        assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    async with deps.db.read() as session:
        wrapped = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "call.wrapup"))
        )
    assert [(w.actor_name, w.target) for w in wrapped] == [("agent", "call:sales1")]


async def test_a_pause_or_blind_transfer_for_another_nodes_agent_or_call_is_done_there(
    deps: Deps, world: World, settings: Settings, clock: FakeClock
) -> None:
    bus = LocalBus()
    here, there = Forwarder(bus, "node-a", KEY), Forwarder(bus, "node-b", KEY)
    board = AgentBoard()
    board.know([("PJSIP/1001", "Agent")])
    queues = SimpleNamespace(board=board)
    services = SimpleNamespace(
        ari=_NoAri(), journal=None, queues=queues, settings=settings, clock=clock
    )
    rules = parse_rules(RULES, "routing.yaml")
    serve_calls(there, CallCenter(services, lambda: rules), deps)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(f.run()) for f in (here, there)]
    await asyncio.sleep(0)  # each subscribes to its channel
    agent = Who(world.user_ids["agent"], "session", "10.0.0.9")
    supervisor = Who(world.user_ids["super"], "token", None)
    try:
        mine = {"endpoint": "PJSIP/1001", "paused": True}
        paused = await here.ask("node-b", "agents.pause", agent, mine)
        assert (paused.status, paused.body["state"]) == (200, "paused"), paused.body
        assert board.view("PJSIP/1001").state.value == "paused"  # on node B's board
        theirs = {"endpoint": "PJSIP/2001", "paused": True}
        other = await here.ask("node-b", "agents.pause", agent, theirs)
        assert (other.status, other.body["error"]["code"]) == (403, "forbidden")
        back = {"endpoint": "PJSIP/1001", "paused": False}
        resumed = await here.ask("node-b", "agents.pause", supervisor, back)
        assert (resumed.status, resumed.body["state"]) == (200, "idle"), resumed.body
        call = {"call_id": "c" * 32, "body": {"to": "department", "target": "sales"}}
        gone = await here.ask("node-b", "calls.transfer", supervisor, call)
        assert (gone.status, gone.body["error"]["code"]) == (404, "not-found")
        qa = Who(world.user_ids["qa"], "token", None)
        refused = await here.ask("node-b", "calls.transfer", qa, call)
        assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    async with deps.db.read() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action.in_(["agent.pause", "agent.unpause"]))
            )
        )
    assert sorted((e.actor_name, e.action) for e in entries) == [
        ("agent", "agent.pause"),
        ("super", "agent.unpause"),
    ]


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
