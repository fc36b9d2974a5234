"""The agent's workspace API inside the daemon, on the real sandbox Asterisk: only agents have
one, each acts on their own endpoint, pauses need a reason from the settings, and the screen pop
arrives on the event stream when a call rings the agent (no browser: the browser test is
tests/browser/test_agent_workspace.py)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.sandbox.simulate import CustomerScript, PartyScript
from zentrale.telephony.agents import AgentState

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
ROUTES = (
    ("GET", "/agent"),
    ("GET", "/api/agent/softphone"),
    ("GET", "/api/agent/state"),
    ("POST", "/api/agent/state"),
    ("GET", "/api/agent/events"),
)


async def _token(flows, username: str, role: Role, endpoint: str | None = None) -> str:  # type: ignore[no-untyped-def]
    users = UserStore(flows.daemon.db)
    user = await users.add(
        NewUser(
            username=username,
            display_name=username.title(),
            password="a long password 1",
            role=role,
            departments=("sales",),
            agent_endpoint=endpoint,
        )
    )
    return (await users.issue_token(user.id, "test", 1)).secret


def _client(flows, token: str | None = None) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=flows.daemon.http_url, headers=headers, timeout=60)


async def test_only_agents_with_a_phone_in_the_rules_have_a_workspace(flows) -> None:  # type: ignore[no-untyped-def]
    async with _client(flows) as anonymous:
        for method, path in ROUTES:
            answer = await anonymous.request(method, path, json={"state": "available"})
            assert answer.status_code in (401, 303, 307), (method, path, answer.status_code)
    for role in (Role.ADMIN, Role.SUPERVISOR, Role.QA):
        async with _client(flows, await _token(flows, f"u{role.value}", role)) as api:
            for method, path in ROUTES:
                answer = await api.request(method, path, json={"state": "available"})
                assert answer.status_code == 403, (role, method, path)
    async with _client(flows, await _token(flows, "nophone", Role.AGENT)) as api:
        answer = await api.get("/api/agent/state")
        assert answer.status_code == 403
        assert "agent_endpoint" in answer.json()["error"]["message"]
    stranger = await _token(flows, "stranger", Role.AGENT, "PJSIP/7777")
    async with _client(flows, stranger) as api:
        answer = await api.get("/api/agent/state")
        assert answer.status_code == 404
        assert "PJSIP/7777" in answer.json()["error"]["message"]


async def test_an_agent_pauses_with_a_reason_and_becomes_available(flows) -> None:  # type: ignore[no-untyped-def]
    endpoint = "Local/A1@sim-agent/n"
    board = flows.daemon.board
    async with _client(flows, await _token(flows, "ayla", Role.AGENT, endpoint)) as api:
        state = (await api.get("/api/agent/state")).json()
        assert state == {
            "endpoint": endpoint,
            "state": "available",
            "reason": None,
            "reasons": ["break", "training", "back_office"],
        }
        refused = await api.post("/api/agent/state", json={"state": "paused", "reason": "nap"})
        assert refused.status_code == 422
        assert "reason" in refused.json()["error"]["message"]
        assert "'nap'" in refused.json()["error"]["message"]
        paused = await api.post("/api/agent/state", json={"state": "paused", "reason": "break"})
        assert (paused.json()["state"], paused.json()["reason"]) == ("paused", "break")
        assert board.view(endpoint).state is AgentState.PAUSED
        back = await api.post("/api/agent/state", json={"state": "available"})
        assert (back.json()["state"], back.json()["reason"]) == ("available", None)
        assert board.view(endpoint).state is AgentState.IDLE
        missing = await api.get("/api/agent/softphone")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "no-softphone")
    async with flows.daemon.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert {"agent.paused", "agent.available"} <= set(actions)


async def test_the_screen_pop_arrives_on_the_event_stream_when_the_agent_is_rung(flows) -> None:  # type: ignore[no-untyped-def]
    endpoint = "Local/A1@sim-agent/n"
    await flows.agent("A1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    token = await _token(flows, "ayla", Role.AGENT, endpoint)
    async with (
        _client(flows, token) as api,
        api.stream("GET", "/api/agent/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=20))
        event, pop = "", None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "ringing":
                pop = json.loads(line.removeprefix("data: "))
                break
    assert pop is not None
    assert (pop["caller"], pop["department"]) == ("+905551112233", "sales")
    assert pop["path"] == [{"menu": "main", "digits": "1"}]
    assert pop["waited_s"] >= 0
    (call,) = await flows.finished_calls(1, max_wait=60)
    assert pop["call_id"] == call.id
