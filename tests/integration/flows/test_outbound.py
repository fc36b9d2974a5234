"""Click-to-call on the real sandbox: the agent's phone first, then the customer's number."""

from __future__ import annotations

import pytest

from zentrale.calls.models import Direction, Outcome
from zentrale.sandbox.simulate import PartyScript, script_party

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def test_click_to_call_answered_is_bridged_and_recorded(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.5))
    await script_party(
        flows.asterisk.ari, "number", "+4930555", PartyScript(answer_after=1, talk=6, then="hangup")
    )
    result = await flows.daemon.center.place("Local/A1@sim-agent/n", "+4930555", "sales")
    assert result.result == "answered"
    (call,) = await flows.finished_calls(1)
    assert (call.id, call.direction, call.outcome) == (
        result.call_id,
        Direction.OUTBOUND,
        Outcome.ANSWERED,
    )
    assert call.called_number == "+4930555"
    assert (call.hangup_cause_code, call.hangup_cause_text) == (16, "Normal Clearing")
    kinds = await flows.kinds(call.id)
    assert kinds.index("consent_played") < kinds.index("recording_started")
    assert "recording_finished" in kinds
    assert kinds.index("agent_answered") < kinds.index("conversation_ended") < kinds.index("hangup")
    # The agent's handle time: from their answer to the end (the customer talked 6 s).
    events = {str(e.kind): e for e in await flows.events(call.id)}
    handled = (events["conversation_ended"].at - events["agent_answered"].at).total_seconds()
    assert call.handle_seconds == pytest.approx(handled, abs=1e-6)
    assert 6 < call.handle_seconds < 30
    assert call.conversations == 1
    assert await flows.asterisk_empty()


@pytest.mark.parametrize(
    ("agent", "number", "expected", "outcome"),
    [
        (PartyScript(answer_after=0.5), PartyScript(mode="busy"), "busy", Outcome.BUSY),
        (PartyScript(mode="busy"), PartyScript(), "agent_busy", Outcome.BUSY),
    ],
)
async def test_click_to_call_not_answered_is_reported(  # type: ignore[no-untyped-def]
    flows, agent: PartyScript, number: PartyScript, expected: str, outcome: Outcome
) -> None:
    await flows.agent("A2", agent)
    await script_party(flows.asterisk.ari, "number", "+4930666", number)
    result = await flows.daemon.center.place("Local/A2@sim-agent/n", "+4930666", "sales")
    assert result.result == expected
    (call,) = await flows.finished_calls(1)
    assert call.outcome == outcome
    kinds = await flows.kinds(call.id)
    assert "recording_started" not in kinds
    # An agent who answered was busy until the end, customer or not: never a negative time.
    answered = expected == "busy"
    assert kinds.count("conversation_ended") == kinds.count("agent_answered") == int(answered)
    assert call.handle_seconds >= 0
    assert (call.handle_seconds > 0) == answered
    assert await flows.asterisk_empty()


async def test_customer_hanging_up_during_the_consent_notice_ends_the_call_cleanly(  # type: ignore[no-untyped-def]
    flows,
) -> None:
    await flows.agent("A1", PartyScript(answer_after=0.5))
    # Answers, then hangs up at once: while the 2.3 s consent notice plays to them.
    await script_party(
        flows.asterisk.ari,
        "number",
        "+4930777",
        PartyScript(answer_after=0.5, talk=0, then="hangup"),
    )
    result = await flows.daemon.center.place("Local/A1@sim-agent/n", "+4930777", "sales")
    assert result.result == "answered"
    (call,) = await flows.finished_calls(1)
    kinds = await flows.kinds(call.id)
    assert "recording_started" not in kinds
    assert kinds[-1] == "hangup"
    assert await flows.asterisk_empty()  # the agent's leg was hung up too
