"""The statistics read what real call flows write: two calls on the sandbox Asterisk, one
answered by an agent, one overflowing after the queue's max_wait, then the report."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from zentrale.calls.models import Outcome
from zentrale.sandbox.simulate import CustomerScript, PartyScript
from zentrale.stats.report import compute
from zentrale.stats.spec import ReportSpec

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
IST = ZoneInfo("Europe/Istanbul")
A1 = "Local/A1@sim-agent/n"


async def test_report_of_an_answered_and_an_overflowed_call(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.5, talk=2, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    await flows.finished_calls(1, max_wait=60)
    await flows.agent("A1", PartyScript(mode="busy"))
    await flows.agent("A2", PartyScript(mode="unavailable"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    answered, overflowed = await flows.finished_calls(2, max_wait=90)
    assert (answered.outcome, overflowed.outcome) == (Outcome.ANSWERED, Outcome.OVERFLOWED)

    day = answered.arrived_at.astimezone(IST).date()
    db = flows.daemon.db
    async with db.read() as session:
        (sales,) = await compute(
            session,
            ReportSpec(group="department", period="day", first_day=day, last_day=day, zone=IST),
        )
        (agent,) = await compute(
            session, ReportSpec(group="agent", period="day", first_day=day, last_day=day, zone=IST)
        )
    assert sales.key == "sales"
    assert (sales.offered, sales.answered, sales.abandoned, sales.overflows) == (2, 1, 0, 1)
    assert sales.conversations == 1
    wait = (answered.agent_answered_at - answered.queued_at).total_seconds()
    assert sales.avg_wait == sales.p90_wait == round(wait, 3)
    events = {str(e.kind): e.at for e in await flows.events(answered.id)}
    talk = (events["conversation_ended"] - events["agent_answered"]).total_seconds()
    assert sales.avg_handle == round(talk, 3)
    assert 0 < talk < 30
    assert sales.service_level == (0.5 if wait <= 20 else 0.0)
    assert (agent.key, agent.offered, agent.answered, agent.conversations) == (A1, 1, 1, 1)
