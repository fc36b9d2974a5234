"""Ring strategies, the agent board and queue order, with a fake ringer instead of Asterisk."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from zentrale.routing.schema import Department, Strategy
from zentrale.telephony.agents import AgentState, AgentView, first_wave
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.queueing import Queues
from zentrale.telephony.ringing import Leg, RingResult


def view(endpoint: str, idle_since: float = 0.0) -> AgentView:
    return AgentView(endpoint=endpoint, name=endpoint, state=AgentState.IDLE, idle_since=idle_since)


AGENTS = [view("a", 30.0), view("b", 10.0), view("c", 20.0)]


def order(strategy: Strategy, agents: list[AgentView], **how: Any) -> list[list[str]]:
    """The waves a caller rings one after the other: each the first wave of the agents it has
    not tried yet (as `Queues` asks), until all are tried."""
    left, waves = list(agents), []
    while wave := first_wave(strategy, left, **how):
        waves.append([agent.endpoint for agent in wave])
        left = [agent for agent in left if agent not in wave]
    return waves


def test_ring_all_is_one_wave() -> None:
    assert order("ring_all", AGENTS) == [["a", "b", "c"]]


def test_in_order_keeps_the_department_order() -> None:
    assert order("in_order", AGENTS) == [["a"], ["b"], ["c"]]


def test_longest_idle_first() -> None:
    assert order("longest_idle", AGENTS) == [["b"], ["c"], ["a"]]
    tied = [view("x", 5.0), view("y", 5.0)]
    assert order("longest_idle", tied) == [["x"], ["y"]]  # a tie keeps the department order


def test_round_robin_starts_after_the_last_who_answered() -> None:
    assert order("round_robin", AGENTS, last_answered="b") == [["c"], ["a"], ["b"]]
    assert order("round_robin", AGENTS, last_answered="c") == [["a"], ["b"], ["c"]]
    assert order("round_robin", AGENTS) == [["a"], ["b"], ["c"]]


def test_random_is_a_permutation_and_varies() -> None:
    orders = {
        tuple(wave[0] for wave in order("random", AGENTS, rng=random.Random(seed)))
        for seed in range(20)
    }
    assert all(sorted(one) == ["a", "b", "c"] for one in orders)
    assert len(orders) > 1


def test_no_free_agents_means_no_waves() -> None:
    assert first_wave("ring_all", []) == []
    assert first_wave("round_robin", [], last_answered="a") == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_board_states_reservation_wrap_up_and_pause() -> None:
    clock = FakeClock()
    board = AgentBoard(clock)
    board.know([("a", "Ayşe"), ("b", "Jonas")])
    assert [v.endpoint for v in board.free(["a", "b"])] == ["a", "b"]
    assert board.reserve("a")
    assert not board.reserve("a")  # already ringing for another caller
    board.connected("a", "sales")
    assert board.last_answered["sales"] == "a"
    board.finished("a", wrap_up=30)
    assert [v.endpoint for v in board.free(["a", "b"])] == ["b"]
    clock.now += 31
    assert [v.endpoint for v in board.free(["a", "b"])] == ["a", "b"]
    board.pause("b", True)
    assert board.view("b").state is AgentState.PAUSED
    board.set_online("a", False)
    assert board.free(["a", "b"]) == []


def department(strategy: str, *endpoints: str) -> Department:
    return Department.model_validate(
        {
            "agents": [{"endpoint": f"PJSIP/{e}", "name": e} for e in endpoints],
            "strategy": strategy,
            "ring_timeout": "2s",
            "max_wait": "10s",
            "on_max_wait": {"play_and_hangup": "bye"},
        }
    )


class FakeRinger:
    """Answers per endpoint as told; records who was rung, in order."""

    def __init__(self, answers: dict[str, RingResult], delay: float = 0.01) -> None:
        self.answers, self.delay, self.rung = answers, delay, []  # type: ignore[var-annotated]

    async def __call__(self, agent: AgentView) -> Leg:
        self.rung.append(agent.endpoint.removeprefix("PJSIP/"))
        await asyncio.sleep(self.delay)
        name = agent.endpoint.removeprefix("PJSIP/")
        return Leg(f"leg-{name}", agent.endpoint, self.answers[name])


async def _nothing(*_: object) -> None:
    return None


@pytest.mark.asyncio
async def test_hunt_skips_agents_who_do_not_answer() -> None:
    board = AgentBoard()
    board.know([("PJSIP/a", "a"), ("PJSIP/b", "b")])
    queues = Queues(board)
    ticket = queues.join("call-1", "sales", priority=0)
    ring = FakeRinger({"a": RingResult.NO_ANSWER, "b": RingResult.ANSWERED})
    leg = await queues.hunt(
        ticket, department("in_order", "a", "b"), ring, _nothing, _nothing, max_wait=5
    )
    assert leg is not None
    assert leg.endpoint == "PJSIP/b"
    assert ring.rung == ["a", "b"]
    assert board.view("PJSIP/b").state is AgentState.ON_CALL
    assert board.view("PJSIP/a").state is AgentState.IDLE


@pytest.mark.asyncio
async def test_hunt_gives_up_after_max_wait() -> None:
    board = AgentBoard()
    board.know([("PJSIP/a", "a")])
    queues = Queues(board)
    ticket = queues.join("call-1", "sales", priority=0)
    ring = FakeRinger({"a": RingResult.NO_ANSWER})
    leg = await queues.hunt(
        ticket, department("ring_all", "a"), ring, _nothing, _nothing, max_wait=0.3
    )
    assert leg is None
    assert len(ring.rung) >= 2  # rung again once everyone free had been tried
    assert board.view("PJSIP/a").state is AgentState.IDLE


@pytest.mark.asyncio
async def test_a_busy_agent_is_left_alone_until_its_back_off_passes_or_its_state_changes() -> None:
    clock = FakeClock()
    board = AgentBoard(clock)
    board.know([("PJSIP/a", "a")])
    queues = Queues(board)
    tickets = [queues.join(f"call-{n}", "sales", priority=0) for n in range(3)]
    ring = FakeRinger({"a": RingResult.BUSY})
    hunts = [
        queues.hunt(ticket, department("ring_all", "a"), ring, _nothing, _nothing, max_wait=0.5)
        for ticket in tickets
    ]
    assert await asyncio.gather(*hunts) == [None, None, None]
    assert ring.rung == ["a"]  # three callers waiting, the busy phone rung once
    assert board.view("PJSIP/a").state is AgentState.BUSY  # what the status screen shows
    clock.now += 2.1  # the back-off (2 s) passed: rung again, then left alone for 4 s
    hunt = queues.hunt(
        tickets[0], department("ring_all", "a"), ring, _nothing, _nothing, max_wait=0.3
    )
    assert await hunt is None
    assert ring.rung == ["a", "a"]
    assert board.view("PJSIP/a").busy_until == pytest.approx(clock.now + 4.0)
    board.set_online("PJSIP/a", False)  # Asterisk reports a change: the back-off is over
    board.set_online("PJSIP/a", True)
    assert [view.endpoint for view in board.free(["PJSIP/a"])] == ["PJSIP/a"]


@pytest.mark.asyncio
async def test_ring_all_second_answer_is_dropped() -> None:
    board = AgentBoard()
    board.know([("PJSIP/a", "a"), ("PJSIP/b", "b")])
    queues = Queues(board)
    ticket = queues.join("call-1", "sales", priority=0)
    dropped: list[str] = []

    async def drop(leg: Leg) -> None:
        dropped.append(leg.endpoint)

    ring = FakeRinger({"a": RingResult.ANSWERED, "b": RingResult.ANSWERED}, delay=0)
    leg = await queues.hunt(
        ticket, department("ring_all", "a", "b"), ring, _nothing, drop, max_wait=5
    )
    assert leg is not None
    assert dropped == ["PJSIP/b" if leg.endpoint == "PJSIP/a" else "PJSIP/a"]
    assert board.view(dropped[0]).state is AgentState.IDLE


def test_priority_then_arrival_orders_the_queue() -> None:
    queues = Queues(AgentBoard())
    first = queues.join("1", "sales", priority=0)
    second = queues.join("2", "sales", priority=0)
    vip = queues.join("3", "sales", priority=5)
    assert [t.call_id for t in queues.waiting("sales")] == ["3", "1", "2"]
    assert queues.may_ring(vip)
    assert not queues.may_ring(first)  # the VIP ahead is not ringing anyone yet
    vip.ringing = True
    assert queues.may_ring(first)
    assert not queues.may_ring(second)
    queues.leave(vip)
    assert queues.position(first) == 0
