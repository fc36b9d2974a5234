"""Live calls and agents over the daemon's HTTP API, on the real sandbox Asterisk.

Tokens of real users (argon2, hashed tokens) authenticate; the role matrix and the own-phone
rule for agents are enforced; each change is in the audit log.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from zentrale.calls.models import Direction, Outcome
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.sandbox.simulate import CustomerScript, PartyScript, script_party
from zentrale.telephony.agents import AgentState

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def _token(flows, username: str, role: Role, endpoint: str | None = None) -> str:  # type: ignore[no-untyped-def]
    users = UserStore(flows.daemon.db)
    user = await users.add(
        NewUser(
            username=username,
            display_name=username.title(),
            password="a long password 1",
            role=role,
            departments=("sales", "support"),
            agent_endpoint=endpoint,
        )
    )
    return (await users.issue_token(user.id, "test", 1)).secret


def _client(flows, token: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(
        base_url=flows.daemon.http_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


async def _until(predicate: Callable[[], bool], max_wait: float = 20) -> None:
    async with asyncio.timeout(max_wait):
        while not predicate():  # noqa: ASYNC110 - polling the daemon's state from outside
            await asyncio.sleep(0.1)


async def test_agent_places_a_call_from_their_own_phone_only(flows) -> None:  # type: ignore[no-untyped-def]
    token = await _token(flows, "ayse", Role.AGENT, "Local/A1@sim-agent/n")
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await script_party(
        flows.asterisk.ari,
        "number",
        "+4930999",
        PartyScript(answer_after=0.5, talk=3, then="hangup"),
    )
    async with _client(flows, token) as api:
        other = await api.post(
            "/api/calls", json={"number": "+4930999", "agent": "Local/A2@sim-agent/n"}
        )
        assert other.status_code == 403
        placed = await api.post("/api/calls", json={"number": "+4930999", "department": "sales"})
        assert placed.status_code == 200, placed.text
        assert placed.json()["result"] == "answered"
        listing = await api.get("/api/calls")
        assert listing.status_code == 403  # live call lists are for supervisors
    (call,) = await flows.finished_calls(1)
    assert (call.id, call.direction, call.outcome) == (
        placed.json()["call_id"],
        Direction.OUTBOUND,
        Outcome.ANSWERED,
    )
    assert call.agent_endpoint == "Local/A1@sim-agent/n"
    assert await flows.asterisk_empty()


async def test_supervisor_transfers_a_connected_call_and_pauses_an_agent(flows) -> None:  # type: ignore[no-untyped-def]
    token = await _token(flows, "sabine", Role.SUPERVISOR)
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await flows.agent("B1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=40))
    center = flows.daemon.center
    await _until(lambda: any(c.agent_leg for c in center.active.values()))
    async with _client(flows, token) as api:
        (active,) = (await api.get("/api/calls")).json()
        assert active["agent_connected"] is True
        assert active["caller"] == "+90555*****33"  # masked even for supervisors
        moved = await api.post(
            f"/api/calls/{active['call_id']}/transfer",
            json={"to": "department", "target": "support"},
        )
        assert moved.status_code == 202
        (call,) = await flows.finished_calls(1, max_wait=40)
        assert call.agent_endpoint == "Local/B1@sim-agent/n"
        paused = await api.post(
            "/api/agents/pause", json={"endpoint": "Local/B1@sim-agent/n", "paused": True}
        )
        assert paused.json()["state"] == "paused"
        assert flows.daemon.board.view("Local/B1@sim-agent/n").state is AgentState.PAUSED
        gone = await api.post(
            f"/api/calls/{active['call_id']}/transfer", json={"to": "department", "target": "sales"}
        )
        assert gone.status_code == 404  # that call has ended
    async with flows.daemon.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert {"call.transfer", "agent.pause"} <= set(actions)
    assert await flows.asterisk_empty()


async def test_calls_api_needs_a_token_and_a_role(flows) -> None:  # type: ignore[no-untyped-def]
    qa = await _token(flows, "quinn", Role.QA)
    async with httpx.AsyncClient(base_url=flows.daemon.http_url) as anonymous:
        assert (await anonymous.get("/api/agents")).status_code == 401
    async with _client(flows, qa) as api:
        assert (await api.get("/api/agents")).status_code == 403
        refused = await api.post(
            "/api/calls", json={"number": "+4930999", "agent": "Local/A1@sim-agent/n"}
        )
        assert refused.status_code == 403


DAEMON_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")
"""A console log line of the daemon: `2026-12-07 13:38:19 [info     ] ...`."""


async def test_zentrale_call_and_agents_commands_use_the_api(flows) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from zentrale.cli import main

    token = await _token(flows, "lena", Role.SUPERVISOR)
    env = {"ZENTRALE_API_TOKEN": token}
    url = ["--url", flows.daemon.http_url]

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*args, *url], env=env)
        # CliRunner swaps the process's stdout while it runs: a log line the daemon (on this
        # process's event loop) prints meanwhile lands in the output (CI saw `purge_done`).
        lines = result.output.splitlines(keepends=True)
        return result.exit_code, "".join(line for line in lines if not DAEMON_LOG.match(line))

    # The daemon runs on this event loop: the blocking CLI runs in a thread.
    assert await asyncio.to_thread(run, "call", "list") == (0, "no calls in progress\n")
    code, out = await asyncio.to_thread(run, "agents", "pause", "Local/C1@sim-agent/n")
    assert (code, out.split()[-1]) == (0, "paused")
    code, out = await asyncio.to_thread(run, "agents", "list")
    assert "Local/C1@sim-agent/n  Lena  paused" in out
    code, out = await asyncio.to_thread(run, "call", "transfer", "0" * 32, "--target", "sales")
    assert code == 1
    assert "404" in out
    anonymous = await asyncio.to_thread(
        CliRunner().invoke, main, ["call", "list", *url], env={"ZENTRALE_API_TOKEN": ""}
    )
    assert anonymous.exit_code == 2
    assert "no API token" in anonymous.output
