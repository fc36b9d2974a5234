"""The workspace helpers the agent's routes share, and that API modules share no private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import zentrale.api
from zentrale.api.workspace import agent_endpoint
from zentrale.base.errors import ForbiddenError, NotFoundError
from zentrale.core.models import Role
from zentrale.core.principal import Principal
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


def test_no_api_module_imports_another_modules_private_names() -> None:
    found = []
    for path in Path(zentrale.api.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zentrale.api"):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []
