"""The journal keeps the call row's timeline figures on real calls (sandbox Asterisk): an
answered call's conversation, an overflow's department; they equal what the timeline says."""

from __future__ import annotations

import pytest

from zentrale.calls.models import Outcome
from zentrale.sandbox.simulate import CustomerScript, PartyScript

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def test_the_journal_fills_the_figures_of_real_calls(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.5, talk=2, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    await flows.finished_calls(1, max_wait=60)
    await flows.agent("A1", PartyScript(mode="busy"))
    await flows.agent("A2", PartyScript(mode="unavailable"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    answered, overflowed = await flows.finished_calls(2, max_wait=90)
    assert (answered.outcome, overflowed.outcome) == (Outcome.ANSWERED, Outcome.OVERFLOWED)

    events = {str(e.kind): e for e in await flows.events(answered.id)}
    talk = (events["conversation_ended"].at - events["agent_answered"].at).total_seconds()
    assert 0 < talk < 30
    assert answered.handle_seconds == pytest.approx(talk, abs=1e-6)
    assert (answered.conversations, answered.transfers, answered.overflows) == (1, 0, 0)
    assert answered.overflowed_from is None

    overflow = [e for e in await flows.events(overflowed.id) if str(e.kind) == "transfer"]
    assert [e.detail.get("overflow") for e in overflow] == ["sales"]
    assert (overflowed.overflows, overflowed.overflowed_from) == (1, "sales")
    assert (overflowed.conversations, overflowed.handle_seconds, overflowed.transfers) == (0, 0, 0)
