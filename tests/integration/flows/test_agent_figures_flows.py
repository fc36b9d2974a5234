"""The agent state log on the real sandbox: an agent pauses, takes a call, goes through
after-call work, and the agent figures show each of them."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from zentrale.base.clock import utcnow
from zentrale.calls.agent_states import AgentStateRow
from zentrale.sandbox.simulate import CustomerScript, PartyScript
from zentrale.stats.agent_store import agent_figures
from zentrale.stats.spec import ReportSpec

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
IST = ZoneInfo("Europe/Istanbul")
C1 = "Local/C1@sim-agent/n"


async def test_pause_call_and_after_call_work_show_in_the_figures(flows) -> None:  # type: ignore[no-untyped-def]
    board = flows.daemon.board
    board.pause(C1, True, "break")
    await asyncio.sleep(0.3)
    board.pause(C1, False)
    await flows.agent("C1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    # 3 -> solo (wrap-up 1 s); the caller hangs up during the survey.
    await flows.call(CustomerScript(digits="3", digit_delay=0.5, then="wait", hangup_after=6))
    (call,) = await flows.finished_calls(1, max_wait=40)
    await asyncio.sleep(1.2)  # the wrap-up runs out
    board.pause(C1, True, "training")  # a change after it: the wrap-up interval is written
    await flows.daemon.journal.flush()
    async with flows.daemon.db.read() as session:
        states = list(
            await session.scalars(
                select(AgentStateRow.state)
                .where(AgentStateRow.endpoint == C1)
                .order_by(AgentStateRow.id)
            )
        )
        day = utcnow().astimezone(IST).date()
        spec = ReportSpec(group="agent", period="day", first_day=day, last_day=day, zone=IST)
        (row,) = await agent_figures(session, spec, [C1], utcnow())
    assert states[:2] == ["available", "paused"]
    assert "on_call" in states
    assert states[-3:] == ["after_call_work", "available", "paused"]
    assert row.name == "Lena"
    assert row.calls == 1
    assert row.talk > 0.5
    assert row.paused["break"] >= 0.3
    assert 0.9 <= row.after_call_work <= 1.5
    assert row.occupancy is not None
    assert 0 < row.occupancy <= 1
    assert call.agent_endpoint == C1
