"""Inbound calls on the real sandbox Asterisk: menus, queues, agents, recordings, hangups."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from zentrale.calls.models import Outcome
from zentrale.sandbox.simulate import CustomerScript, PartyScript

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def test_menu_to_department_to_agent_recorded(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.5))
    # Speech long enough to outlast the 2.3 s consent notice and the ringing, even under load.
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, talk=8))
    (call,) = await flows.finished_calls(1)
    assert call.outcome == Outcome.ANSWERED
    assert (call.department, call.agent_endpoint, call.agent_name) == (
        "sales",
        "Local/A1@sim-agent/n",
        "Ayşe",
    )
    assert call.caller_number == "+905551112233"
    assert call.consent_version == "sound:conf-now-recording"
    kinds = await flows.kinds(call.id)
    for expected in (
        "arrived",
        "answered",
        "menu_entered",
        "digit",
        "consent_played",
        "queued",
        "agent_rung",
        "agent_answered",
        "recording_started",
        "recording_finished",
        "hangup",
    ):
        assert expected in kinds, (expected, kinds)
    assert kinds.index("consent_played") < kinds.index("recording_started")
    assert await flows.asterisk_empty()


async def test_wrong_digit_then_retry_reaches_department(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("B1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    # 9 is no option: the invalid prompt plays, the menu repeats, then 2 (support).
    await flows.call(CustomerScript(digits="9ww2", digit_delay=0.5, then="wait"))
    (call,) = await flows.finished_calls(1)
    assert (call.outcome, call.department) == (Outcome.ANSWERED, "support")
    digits = [e.detail.get("digits") for e in await flows.events(call.id) if e.kind == "digit"]
    assert digits == ["9", "2"]
    assert await flows.asterisk_empty()


async def test_no_input_times_out_then_goodbye(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.call(CustomerScript(digit_delay=0.5, then="wait"))
    (call,) = await flows.finished_calls(1, max_wait=40)
    timeouts = [e for e in await flows.events(call.id) if e.detail.get("timeout")]
    assert len(timeouts) == 2  # the first try and one retry
    assert call.department is None
    assert call.outcome == Outcome.ENDED_IN_MENU  # retries used up, goodbye played, no agent
    assert await flows.asterisk_empty()


async def test_agent_no_answer_rings_next_agent(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(mode="noanswer"))
    await flows.agent("A2", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    (call,) = await flows.finished_calls(1)
    assert (call.outcome, call.agent_endpoint) == (Outcome.ANSWERED, "Local/A2@sim-agent/n")
    events = await flows.events(call.id)
    rung = [e.detail["agent"] for e in events if e.kind == "agent_rung"]
    assert rung[:2] == ["Local/A1@sim-agent/n", "Local/A2@sim-agent/n"]
    missed = [e.detail for e in events if e.kind == "agent_no_answer"]
    assert missed[0] == {"agent": "Local/A1@sim-agent/n", "result": "no_answer"}
    assert await flows.asterisk_empty()


async def test_all_agents_busy_overflows_after_max_wait(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(mode="busy"))
    await flows.agent("A2", PartyScript(mode="unavailable"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    (call,) = await flows.finished_calls(1, max_wait=40)
    assert call.outcome == Outcome.OVERFLOWED
    events = await flows.events(call.id)
    results = {e.detail["result"] for e in events if e.kind == "agent_no_answer"}
    assert results == {"busy", "unavailable"}
    assert any(e.detail.get("overflow") == "sales" for e in events)
    assert await flows.asterisk_empty()


async def test_caller_hangs_up_in_menu(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.call(CustomerScript(digit_delay=0.5, hangup_after=1, then="wait"))
    (call,) = await flows.finished_calls(1)
    assert call.outcome == Outcome.ABANDONED_IN_MENU
    assert await flows.asterisk_empty()


async def test_caller_hangs_up_while_agents_ring(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(mode="noanswer"))
    await flows.agent("A2", PartyScript(mode="noanswer"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, hangup_after=5, then="wait"))
    (call,) = await flows.finished_calls(1)
    assert call.outcome == Outcome.ABANDONED_IN_QUEUE
    assert "agent_rung" in await flows.kinds(call.id)
    assert await flows.asterisk_empty()  # the ringing agent leg was hung up too


async def test_agent_hangs_up_then_caller_takes_survey(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("C1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    # 3 -> solo (survey after the call); the customer waits and answers 4 to the survey.
    await flows.call(
        CustomerScript(digits="3wwwwwwwwwwwwww4", digit_delay=0.5, then="wait", hangup_after=25)
    )
    (call,) = await flows.finished_calls(1, max_wait=40)
    assert (call.outcome, call.agent_endpoint) == (Outcome.ANSWERED, "Local/C1@sim-agent/n")
    answers = [e.detail for e in await flows.events(call.id) if e.kind == "survey_answer"]
    assert answers == [{"survey": "quick", "question": 1, "answer": 4}]
    assert await flows.asterisk_empty()


async def test_two_callers_compete_for_one_agent(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("C1", PartyScript(answer_after=0.5, talk=2, then="hangup"))
    first = CustomerScript(digits="3", digit_delay=0.5, then="wait", hangup_after=30)
    await flows.call(first, caller="+905551110001")
    await flows.call(first, caller="+905551110002")
    calls = await flows.finished_calls(2, max_wait=60)
    assert [c.outcome for c in calls] == [Outcome.ANSWERED, Outcome.ANSWERED]
    first, second = sorted(calls, key=lambda c: c.agent_answered_at)
    ended = next(e.at for e in await flows.events(first.id) if e.kind == "conversation_ended")
    # One agent: the second conversation starts after the first ended plus 1 s of wrap-up.
    assert (second.agent_answered_at - ended).total_seconds() >= 1.0
    assert first.caller_number == "+905551110001"  # served in order of arrival
    assert await flows.asterisk_empty()


async def _until(predicate: Callable[[], bool], max_wait: float = 20) -> None:
    async with asyncio.timeout(max_wait):
        while not predicate():  # noqa: ASYNC110 - polling the daemon's state from outside
            await asyncio.sleep(0.1)


async def test_vip_caller_is_served_before_an_earlier_caller(flows) -> None:  # type: ignore[no-untyped-def]
    board, queues = flows.daemon.board, flows.daemon.center.services.queues
    board.pause("Local/B1@sim-agent/n", True)
    await flows.agent("B1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    waiting = CustomerScript(digits="2", digit_delay=0.5, then="wait", hangup_after=40)
    await flows.call(waiting, caller="+905551110001")
    await _until(lambda: len(queues.waiting("support")) == 1)
    await flows.call(waiting, caller="+905329990002")  # matches the VIP entry rule
    await _until(lambda: len(queues.waiting("support")) == 2)
    board.pause("Local/B1@sim-agent/n", False)
    calls = await flows.finished_calls(2, max_wait=60)
    first = min(calls, key=lambda c: c.agent_answered_at)
    assert first.caller_number == "+905329990002"
    assert all(c.outcome == Outcome.ANSWERED for c in calls)
    assert await flows.asterisk_empty()


async def test_blind_transfer_to_another_department(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.5))  # stays on the line
    await flows.agent("B1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=40))
    center = flows.daemon.center
    await _until(lambda: any(c.agent_leg for c in center.active.values()))
    (call_id,) = center.active
    await center.transfer(call_id, "department", "support")
    (call,) = await flows.finished_calls(1, max_wait=40)
    assert (call.department, call.agent_endpoint) == ("support", "Local/B1@sim-agent/n")
    kinds = await flows.kinds(call_id)
    assert kinds.count("agent_answered") == 2
    assert kinds.count("consent_played") == 2  # played again for the new party
    assert kinds.count("recording_finished") == 2  # one recording per conversation
    assert kinds.index("transfer") < kinds.index("recording_finished", kinds.index("transfer"))
    assert await flows.asterisk_empty()


async def test_transfer_of_a_call_not_connected_is_refused(flows) -> None:  # type: ignore[no-untyped-def]
    from zentrale.telephony.callcenter import CallNotActiveError

    with pytest.raises(CallNotActiveError):
        await flows.daemon.center.transfer("no-such-call", "department", "support")


async def test_agent_whose_phone_is_offline_is_not_rung(flows) -> None:  # type: ignore[no-untyped-def]
    from zentrale.telephony.agents import AgentState

    board = flows.daemon.board
    assert board.view("PJSIP/9001").state is AgentState.OFFLINE  # Asterisk: never registered
    await flows.agent("D1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(digits="4", digit_delay=0.5, then="wait", hangup_after=20))
    (call,) = await flows.finished_calls(1)
    assert call.agent_endpoint == "Local/D1@sim-agent/n"
    rung = [e.detail["agent"] for e in await flows.events(call.id) if e.kind == "agent_rung"]
    assert rung == ["Local/D1@sim-agent/n"]
    assert await flows.asterisk_empty()


async def test_missing_prompt_is_reported_when_rules_load_not_during_a_call(  # type: ignore[no-untyped-def]
    flows,
) -> None:
    watch = flows.daemon.prompts
    await _until(lambda: watch.checked_version == flows.daemon.rules.current.version)
    assert watch.missing == []  # every sound of the test rules ships with Asterisk
    rules_file = flows.daemon.settings.routing.file
    rules_file.write_text(
        rules_file.read_text().replace("bye: sound:vm-goodbye", "bye: sound:de/tschuess-fehlt")
    )
    await _until(
        lambda: watch.checked_version == flows.daemon.rules.current.version and bool(watch.missing)
    )
    (missing,) = watch.missing
    assert (missing.prompt, missing.sound) == ("bye", "sound:de/tschuess-fehlt")


async def test_max_wait_overflows_to_an_outside_number(flows) -> None:  # type: ignore[no-untyped-def]
    from zentrale.sandbox.simulate import script_party

    await flows.agent("E1", PartyScript(mode="noanswer"))
    await script_party(
        flows.asterisk.ari,
        "number",
        "+4930111",
        PartyScript(answer_after=0.5, talk=2, then="hangup"),
    )
    await flows.call(CustomerScript(digits="5", digit_delay=0.5, then="wait", hangup_after=30))
    (call,) = await flows.finished_calls(1, max_wait=40)
    assert call.outcome == Outcome.ANSWERED  # the outside number took the call
    events = await flows.events(call.id)
    assert any(e.detail.get("overflow") == "overflow" for e in events)
    assert await flows.asterisk_empty()
