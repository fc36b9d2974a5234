"""The pure side of transfers: where one goes, which request an attended transfer's state
allows, when the consent notice is played again, and ringing the consulted party in turn."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from zentrale.routing.load import load_rules
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.ringing import Leg, RingResult
from zentrale.telephony.transfer import (
    Phase,
    Request,
    Target,
    TransferNews,
    TransferState,
    TransferStateError,
    TransferTargetError,
    notice_first,
    resolve,
    ring_consult,
    ring_outcome,
)

EXAMPLE = Path(__file__).parents[3] / "config" / "routing.yaml"
RULES = load_rules(EXAMPLE).document
AYSE, JONAS = "Local/1001@sim-agent", "Local/1002@sim-agent"


def test_a_department_target_rings_its_agents_but_never_the_one_transferring() -> None:
    target = resolve(RULES, "department", "sales", AYSE)
    assert (target.kind, target.name, target.department) == ("department", "sales", "sales")
    assert target.endpoints == (JONAS,)
    assert target.label == "department:sales"
    assert resolve(RULES, "department", "sales", None).endpoints == (AYSE, JONAS)


def test_an_agent_target_is_that_agent_in_their_first_department() -> None:
    target = resolve(RULES, "agent", "Local/1031@sim-agent", AYSE)
    assert (target.department, target.endpoints) == ("complaints", ("Local/1031@sim-agent",))
    assert target.label == "agent:Local/1031@sim-agent"


@pytest.mark.parametrize(
    ("kind", "name", "says"),
    [
        ("department", "nowhere", "no department 'nowhere' in the rules (known: billing"),
        ("agent", "PJSIP/9999", "no agent 'PJSIP/9999' in any department"),
        ("agent", AYSE, "is the agent transferring"),
        ("menu", "main", "a department or an agent, not 'menu'"),
    ],
)
def test_an_unknown_or_own_target_is_refused_naming_it(kind: str, name: str, says: str) -> None:
    with pytest.raises(TransferTargetError) as refused:
        resolve(RULES, kind, name, AYSE)
    assert says in refused.value.message
    assert refused.value.code == "transfer-target-unknown"


def _request(action: str) -> Request:
    return Request(action, resolve(RULES, "department", "sales", AYSE), by=AYSE)


def test_an_attended_transfer_runs_consult_answer_complete() -> None:
    state = TransferState()
    state.check(_request("consult"))
    state.check(_request("blind"))
    ringing = state.consulting("department:sales")
    assert (ringing.phase, ringing.target) == (Phase.RINGING, "department:sales")
    ringing.check(_request("cancel"))
    consulting = ringing.answered(JONAS)
    assert (consulting.phase, consulting.consulted) == (Phase.CONSULTING, JONAS)
    consulting.check(_request("complete"))
    consulting.check(_request("cancel"))
    done = consulting.back("completed")
    assert done == TransferState(last="completed")
    assert done.as_json() == {
        "phase": "talking",
        "target": None,
        "consulted": None,
        "last": "completed",
    }


@pytest.mark.parametrize(
    ("phase", "action"),
    [
        (Phase.TALKING, "complete"),
        (Phase.TALKING, "cancel"),
        (Phase.RINGING, "complete"),
        (Phase.RINGING, "consult"),
        (Phase.RINGING, "blind"),
        (Phase.CONSULTING, "consult"),
        (Phase.CONSULTING, "blind"),
    ],
)
def test_a_request_that_does_not_fit_the_state_is_refused(phase: Phase, action: str) -> None:
    with pytest.raises(TransferStateError) as refused:
        TransferState(phase=phase).check(_request(action))
    assert refused.value.code == "transfer-wrong-state"
    assert f"cannot {action} while {phase.value}" in refused.value.message


def test_complete_without_a_consultation_says_to_consult_first() -> None:
    with pytest.raises(TransferStateError, match=r"consult first"):
        TransferState().check(_request("complete"))


def test_back_with_the_caller_keeps_why_the_consultation_ended() -> None:
    for why in ("cancelled", "no_answer", "busy", "hung_up", "no_agent"):
        state = TransferState().consulting("agent:x").back(why)
        assert (state.phase, state.last, state.target) == (Phase.TALKING, why, None)


@pytest.mark.parametrize(
    ("records", "played", "replay", "notice"),
    [
        (False, False, True, False),  # the target does not record: no notice
        (True, False, False, True),  # never heard it: it is played
        (True, True, True, True),  # heard it, the rules replay it on a transfer
        (True, True, False, False),  # heard it, no replay
    ],
)
def test_the_consent_notice_before_the_handover_follows_the_transfer_rules(
    records: bool, played: bool, replay: bool, notice: bool
) -> None:
    assert notice_first(records, played, replay) is notice


def test_ring_outcome_names_nobody_free() -> None:
    assert ring_outcome(None) == "no_agent"
    assert ring_outcome(Leg("c", "e", RingResult.BUSY)) == "busy"


class _Rings:
    """A scripted ringer: each endpoint answers with the result given."""

    def __init__(self, results: dict[str, RingResult]) -> None:
        self.results = results
        self.rung: list[str] = []

    async def __call__(self, endpoint: str) -> Leg:
        self.rung.append(endpoint)
        return Leg(f"agent-{endpoint}", endpoint, self.results[endpoint])


def _board(*endpoints: str) -> AgentBoard:
    board = AgentBoard(clock=lambda: 100.0)
    board.know((endpoint, endpoint) for endpoint in endpoints)
    return board


def _target(*endpoints: str) -> Target:
    base = resolve(RULES, "department", "support", None)
    return Target("department", "support", "support", base.config, endpoints)


@pytest.mark.asyncio
async def test_ring_consult_rings_free_agents_in_turn_until_one_answers() -> None:
    board = _board("a", "b", "c", "d")
    board.pause("b", True)
    rings = _Rings({"a": RingResult.NO_ANSWER, "c": RingResult.ANSWERED, "d": RingResult.ANSWERED})
    leg = await ring_consult(board, _target("a", "b", "c", "d"), rings)
    assert leg is not None
    assert (leg.endpoint, leg.result) == ("c", RingResult.ANSWERED)
    assert rings.rung == ["a", "c"]  # b is paused, d never rung
    assert str(board.view("a").state) == "idle"  # put back after not answering
    assert str(board.view("c").state) == "ringing"  # still reserved for the flow


@pytest.mark.asyncio
async def test_ring_consult_reports_the_last_refusal_or_nobody_free() -> None:
    board = _board("a")
    rings = _Rings({"a": RingResult.BUSY})
    leg = await ring_consult(board, _target("a"), rings)
    assert leg is not None
    assert leg.result is RingResult.BUSY
    assert str(board.view("a").state) == "busy"  # backed off like a queue's refusal
    assert await ring_consult(board, _target("a"), rings) is None  # still backing off


@pytest.mark.asyncio
async def test_transfer_news_wakes_a_waiting_stream_when_a_transfer_moves() -> None:
    news = TransferNews()
    waiting = asyncio.create_task(news.wait_change(3600))
    await asyncio.sleep(0)  # the waiter is waiting
    assert not waiting.done()
    news.moved()
    await waiting  # woken by the move, not by the hour
    # A move nobody waited for does not wake the next waiter.
    news.moved()
    later = asyncio.create_task(news.wait_change(3600))
    await asyncio.sleep(0)
    assert not later.done()
    later.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await later
