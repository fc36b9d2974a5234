"""Callbacks on the real sandbox: a callback placed at wrap-up rings the same agent at the time
set (a fake clock), then the customer, recorded with the outbound consent notice."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from zentrale.calls.models import Direction, Outcome
from zentrale.config.settings import AgentSettings, CallbackSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers.models import Callback, CallbackState
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, script_party
from zentrale.testing.clocks import FakeClock

from .conftest import MONDAY_10, RULES, Flows, daemon_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
CALLER = "+905551112233"
AGENT = "Local/A1@sim-agent/n"


@pytest_asyncio.fixture
async def desk(
    asterisk: SandboxInstance, tmp_path: Path
) -> AsyncIterator[tuple[Flows, FakeClock, str]]:
    """The flows' daemon on a clock the test moves, and an API token of agent A1."""
    clock = FakeClock(MONDAY_10)
    settings = daemon_settings(tmp_path, RULES).model_copy(
        update={"agents": AgentSettings(callbacks=CallbackSettings(check_every=0.2))}
    )
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=clock
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        users = UserStore(daemon.db)
        agent = await users.add(
            NewUser(
                username="ayse",
                display_name="Ayşe",
                password="a long password 1",
                role=Role.AGENT,
                departments=("sales",),
                agent_endpoint=AGENT,
            )
        )
        token = await users.issue_token(agent.id, "test", 1)
        yield Flows(daemon, asterisk), clock, token.secret


async def test_a_callback_rings_the_same_agent_at_the_time_set_then_the_customer(
    desk: tuple[Flows, FakeClock, str],
) -> None:
    flows, clock, token = desk
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, talk=3), caller=CALLER)
    (call,) = await flows.finished_calls(1)
    assert call.agent_endpoint == AGENT

    auth = {"Authorization": f"Bearer {token}"}
    assert flows.daemon.http_url is not None
    async with httpx.AsyncClient(base_url=flows.daemon.http_url, headers=auth) as api:
        unknown = await api.put(f"/api/calls/{call.id}/wrapup", json={"disposition": "sale"})
        assert unknown.status_code == 422  # sales lists no codes in these rules
        assert unknown.json()["error"]["code"] == "unknown-disposition"
        assert "department sales" in unknown.json()["error"]["message"]
        late = await api.put(
            f"/api/calls/{call.id}/wrapup", json={"callback_at": "2026-03-02T21:00:00"}
        )
        assert late.status_code == 422  # 21:00 in Istanbul: after the calling hours
        assert late.json()["error"]["code"] == "invalid-callback"
        saved = await api.put(
            f"/api/calls/{call.id}/wrapup",
            json={"notes": "call back about the offer", "callback_at": "2026-03-02T11:00:00"},
        )
        assert saved.status_code == 200, saved.text
        (callback,) = saved.json()["callbacks"]
        assert callback["due_at"] == "2026-03-02T08:00:00Z"
        listed = await api.get("/api/agent/callbacks")
        assert [c["id"] for c in listed.json()] == [callback["id"]]

    runner = flows.daemon.callbacks
    assert runner is not None
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await script_party(
        flows.asterisk.ari, "number", CALLER, PartyScript(answer_after=1, talk=4, then="hangup")
    )
    clock.advance(59 * 60)  # 10:59: not yet
    await asyncio.sleep(1.0)  # five looks of the scheduler
    assert runner.placed == []
    clock.advance(60)  # 11:00: due
    async with asyncio.timeout(30):
        while not runner.placed:  # noqa: ASYNC110 (filled by the scheduler)
            await asyncio.sleep(0.1)
    first, second = await flows.finished_calls(2, max_wait=60)
    assert first.id == call.id
    assert (second.id, second.direction, second.outcome) == (
        runner.placed[0],
        Direction.OUTBOUND,
        Outcome.ANSWERED,
    )
    assert (second.agent_endpoint, second.called_number, second.department) == (
        AGENT,
        CALLER,
        "sales",
    )
    events = await flows.events(second.id)
    rung = [event.detail.get("to") for event in events if str(event.kind) == "agent_rung"]
    assert rung == ["agent", "out"]  # the agent's phone first, then the customer's
    kinds = [str(event.kind) for event in events]
    assert kinds.index("agent_answered") < kinds.index("consent_played")
    assert kinds.index("consent_played") < kinds.index("recording_started")
    async with asyncio.timeout(10):
        while True:
            async with flows.daemon.db.read() as session:
                row = await session.get(Callback, callback["id"])
            assert row is not None
            if row.state is not CallbackState.CALLING:
                break
            await asyncio.sleep(0.1)
    assert (row.state, row.result, row.placed_call_id, row.attempts) == (
        CallbackState.DONE,
        "answered",
        second.id,
        1,
    )
    assert clock() == dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    assert await flows.asterisk_empty()
