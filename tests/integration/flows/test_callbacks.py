"""Callbacks on the real sandbox: a callback placed at wrap-up rings the same agent at the time
set (a fake clock), then the customer, recorded with the outbound consent notice; a free
colleague of the department when the agent stays busy; and again when the daemon that was
placing it stopped mid-attempt."""

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
from zentrale.customers import wrapup
from zentrale.customers.models import Callback, CallbackState
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, script_party
from zentrale.testing.clocks import FakeClock

from .conftest import MONDAY_10, RULES, Flows, daemon_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
CALLER = "+905551112233"
AGENT = "Local/A1@sim-agent/n"
COLLEAGUE = "Local/A2@sim-agent/n"
ELEVEN = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # 11:00 in Istanbul


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


async def _promised(flows: Flows, token: str) -> str:
    """Take a call on A1 and wrap it up with a callback at 11:00; return the callback's id."""
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, talk=3), caller=CALLER)
    (call,) = await flows.finished_calls(1)
    assert call.agent_endpoint == AGENT
    assert flows.daemon.http_url is not None
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=flows.daemon.http_url, headers=auth) as api:
        saved = await api.put(
            f"/api/calls/{call.id}/wrapup", json={"callback_at": "2026-03-02T11:00:00"}
        )
    assert saved.status_code == 200, saved.text
    callback_id: str = saved.json()["callbacks"][0]["id"]
    return callback_id


async def _settled(flows: Flows, callback_id: str) -> Callback:
    async with asyncio.timeout(60):
        while True:
            async with flows.daemon.db.read() as session:
                row = await session.get(Callback, callback_id)
            assert row is not None
            if row.state not in (CallbackState.CALLING, CallbackState.SCHEDULED):
                return row
            await asyncio.sleep(0.1)


async def _placed(flows: Flows) -> list[str]:
    runner = flows.daemon.callbacks
    assert runner is not None
    async with asyncio.timeout(30):
        while not runner.placed:  # noqa: ASYNC110 (filled by the scheduler)
            await asyncio.sleep(0.1)
    return runner.placed


async def test_a_callback_whose_agent_stays_busy_goes_to_a_free_colleague_of_the_department(
    desk: tuple[Flows, FakeClock, str],
) -> None:
    flows, clock, token = desk
    callback_id = await _promised(flows, token)
    assert flows.daemon.http_url is not None
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=flows.daemon.http_url, headers=auth) as api:
        paused = await api.post("/api/agent/state", json={"state": "paused", "reason": "break"})
    assert paused.status_code == 200, paused.text
    runner = flows.daemon.callbacks
    assert runner is not None
    await flows.agent("A2", PartyScript(answer_after=0.5))
    await script_party(
        flows.asterisk.ari, "number", CALLER, PartyScript(answer_after=1, talk=3, then="hangup")
    )
    clock.advance((ELEVEN - clock()).total_seconds())  # 11:00: due, but Ayşe is on a break
    await asyncio.sleep(1.0)  # five looks of the scheduler
    assert runner.placed == []
    clock.advance(runner.settings.agent_wait - 1)  # 11:09:59: still waiting for her
    await asyncio.sleep(1.0)
    assert runner.placed == []
    clock.advance(1)  # 11:10: agent_wait is over, Jonas of sales is free
    (placed,) = await _placed(flows)
    _, second = await flows.finished_calls(2, max_wait=60)
    assert (second.id, second.direction, second.outcome) == (
        placed,
        Direction.OUTBOUND,
        Outcome.ANSWERED,
    )
    assert (second.agent_endpoint, second.called_number, second.department) == (
        COLLEAGUE,
        CALLER,
        "sales",
    )
    row = await _settled(flows, callback_id)
    assert (row.state, row.result, row.placed_call_id, row.attempts) == (
        CallbackState.DONE,
        "answered",
        second.id,
        1,
    )
    assert await flows.asterisk_empty()


async def test_a_callback_left_calling_by_a_stopped_daemon_is_placed_again_after_its_lease(
    desk: tuple[Flows, FakeClock, str],
) -> None:
    flows, clock, token = desk
    callback_id = await _promised(flows, token)
    runner = flows.daemon.callbacks
    assert runner is not None
    lease = dt.timedelta(seconds=runner.settings.lease)
    # another daemon claimed it at 11:00 and stopped mid-attempt: its row stays calling
    async with flows.daemon.db.write() as session:
        claimed = await wrapup.claim(
            session, callback_id, ELEVEN, owner="node9:gone:4242:dead00", until=ELEVEN + lease
        )
    assert claimed
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await script_party(
        flows.asterisk.ari, "number", CALLER, PartyScript(answer_after=1, talk=3, then="hangup")
    )
    clock.advance((ELEVEN - clock()).total_seconds() + lease.total_seconds() - 1)
    await asyncio.sleep(1.0)  # the other daemon's lease still holds: nobody places it
    assert runner.placed == []
    async with flows.daemon.db.read() as session:
        row = await session.get(Callback, callback_id)
    assert row is not None
    assert row.state is CallbackState.CALLING
    clock.advance(2)  # its lease ran out
    (placed,) = await _placed(flows)
    _, second = await flows.finished_calls(2, max_wait=60)
    assert (second.id, second.outcome, second.agent_endpoint, second.called_number) == (
        placed,
        Outcome.ANSWERED,
        AGENT,
        CALLER,
    )
    row = await _settled(flows, callback_id)
    assert (row.state, row.result, row.placed_call_id, row.attempts, row.locked_by) == (
        CallbackState.DONE,
        "answered",
        second.id,
        2,
        None,
    )
    assert await flows.asterisk_empty()
