"""The workspace helpers the agent's routes share, and that API modules share no private names."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import zentrale.api
from zentrale.api.routes_calls import everywhere
from zentrale.api.workspace import AgentOnOtherNodeError, agent_endpoint
from zentrale.base.errors import ForbiddenError, NotFoundError
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.ops.live import LiveNodes
from zentrale.telephony.board import AgentBoard


def _agent(endpoint: str | None) -> Principal:
    return Principal(
        user_id="u1",
        username="ayla",
        display_name="Ayla",
        role=Role.AGENT,
        departments=("sales",),
        agent_endpoint=endpoint,
        via="token",
        address=None,
    )


def test_the_agent_endpoint_is_the_callers_phone_and_must_be_in_the_rules() -> None:
    board = AgentBoard(lambda: 0.0)
    board.know([("PJSIP/8101", "Ayla")])
    assert agent_endpoint(_agent("PJSIP/8101"), board) == "PJSIP/8101"
    with pytest.raises(ForbiddenError, match="no phone"):
        agent_endpoint(_agent(None), board)
    with pytest.raises(NotFoundError, match="no agent PJSIP/9999 in the routing rules"):
        agent_endpoint(_agent("PJSIP/9999"), board)


def test_an_agent_another_node_rings_is_referred_to_that_nodes_workspace() -> None:
    board = AgentBoard(lambda: 0.0)
    live = LiveNodes("node-a", lambda: 100.0)
    row = {"endpoint": "PJSIP/9999", "state": "available", "departments": [], "call": None}
    message = {"node": "node-b", "url": "http://b:8800", "queues": []}
    live.take(json.dumps({**message, "agents": [{**row, "since_at": 90}]}))
    with pytest.raises(AgentOnOtherNodeError, match=r"node node-b: .* \(http://b:8800/agent\)"):
        agent_endpoint(_agent("PJSIP/9999"), board, live)
    with pytest.raises(NotFoundError, match="no agent PJSIP/7777 in the routing rules"):
        agent_endpoint(_agent("PJSIP/7777"), board, live)


def test_no_api_module_imports_another_modules_private_names() -> None:
    found = []
    for path in Path(zentrale.api.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zentrale.api"):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []


def test_another_nodes_agents_join_the_agent_list_in_the_boards_words() -> None:
    live = LiveNodes("node-r", lambda: 100.0)
    rows = [
        {"endpoint": "PJSIP/8101", "name": "Ayla", "state": "after_call_work"},
        {"endpoint": "PJSIP/8102", "name": "Berk", "state": "offline"},
    ]
    full = [{**r, "departments": ["sales"], "call": None, "since_at": 90} for r in rows]
    live.take(json.dumps({"node": "node-a", "url": None, "agents": full, "queues": []}))
    own = [
        {"endpoint": "PJSIP/8102", "name": "Berk", "state": "offline"},
        {"endpoint": "PJSIP/8103", "name": "Cem", "state": "busy"},
    ]
    assert everywhere(own, live) == [
        {"endpoint": "PJSIP/8101", "name": "Ayla", "state": "wrap_up", "node": "node-a"},
        {"endpoint": "PJSIP/8102", "name": "Berk", "state": "offline", "node": "node-r"},
        {"endpoint": "PJSIP/8103", "name": "Cem", "state": "busy", "node": "node-r"},
    ]


def test_an_agent_offline_on_every_node_is_referred_to_the_node_that_knows_them() -> None:
    live = LiveNodes("node-r", lambda: 100.0)
    row = {"endpoint": "PJSIP/9999", "state": "offline", "departments": [], "call": None}
    message = {"node": "node-b", "url": "http://b:8800", "queues": []}
    live.take(json.dumps({**message, "agents": [{**row, "since_at": 90}]}))
    with pytest.raises(AgentOnOtherNodeError, match=r"node node-b: .* \(http://b:8800/agent\)"):
        agent_endpoint(_agent("PJSIP/9999"), AgentBoard(lambda: 0.0), live)
