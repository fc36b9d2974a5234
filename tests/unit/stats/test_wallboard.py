"""The wallboard's snapshot, from a real agent board and real queues (no Asterisk needed)."""

from __future__ import annotations

from zentrale.stats.wallboard import Wallboard
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.queueing import Queues

DEPARTMENTS = {"sales": ["PJSIP/a", "PJSIP/b", "PJSIP/c"], "support": ["PJSIP/c", "PJSIP/d"]}


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _board() -> tuple[Wallboard, Queues, AgentBoard, Clock]:
    clock = Clock()
    agents = AgentBoard(clock)
    agents.know([(e, e[-1]) for e in ("PJSIP/a", "PJSIP/b", "PJSIP/c", "PJSIP/d")])
    queues = Queues(agents)
    return Wallboard(queues, lambda: DEPARTMENTS, clock), queues, agents, clock


def test_waiting_callers_longest_wait_and_agent_states() -> None:
    board, queues, agents, clock = _board()
    first = queues.join("call-1", "sales", 0)
    first.arrived = clock.now - 42.7
    second = queues.join("call-2", "sales", 0)
    second.arrived = clock.now - 3
    agents.connected("PJSIP/a", "sales")
    agents.pause("PJSIP/b", True)
    assert agents.reserve("PJSIP/d")  # ringing
    sales, support = board.snapshot()["departments"]
    assert sales == {
        "department": "sales",
        "waiting": 2,
        "longest_wait": 42,
        "available": 1,
        "on_call": 1,
        "paused": 1,
        "other": 0,
    }
    assert support == {
        "department": "support",
        "waiting": 0,
        "longest_wait": 0,
        "available": 1,
        "on_call": 0,
        "paused": 0,
        "other": 1,
    }
    queues.leave(first)
    assert board.snapshot()["departments"][0]["longest_wait"] == 3


def test_scope_and_unknown_agents() -> None:
    board, _queues, _agents, _clock = _board()
    only = board.snapshot(["support"])["departments"]
    assert [d["department"] for d in only] == ["support"]
    unknown = Wallboard(_queues, lambda: {"x": ["PJSIP/never-seen"]}, _clock).snapshot()
    assert unknown["departments"][0]["other"] == 1  # not on the board: offline


def test_one_live_row_per_agent_with_state_time_and_pause_reason() -> None:
    board, _queues, agents, clock = _board()
    agents.pause("PJSIP/b", True, "break")
    clock.now += 65
    agents.connected("PJSIP/a", "sales")
    clock.now += 5
    rows = {row["endpoint"]: row for row in board.snapshot(["sales"])["agents"]}
    assert set(rows) == {"PJSIP/a", "PJSIP/b", "PJSIP/c"}  # support's d is not shown
    assert (rows["PJSIP/a"]["state"], rows["PJSIP/a"]["seconds"]) == ("on_call", 5)
    assert (rows["PJSIP/b"]["state"], rows["PJSIP/b"]["seconds"]) == ("paused", 70)
    assert rows["PJSIP/b"]["reason"] == "break"
    assert rows["PJSIP/c"]["departments"] == ["sales"]
    agents.finished("PJSIP/a", wrap_up=10)
    clock.now += 11  # the wrap-up ran out: idle again
    assert board.snapshot(["sales"])["agents"][0]["state"] == "idle"
