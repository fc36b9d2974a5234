"""The wallboard's snapshot, from a real agent board and real queues (no Asterisk needed)."""

from __future__ import annotations

import json

from zentrale.ops.live import LiveNodes
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


def _heard(live: LiveNodes, wall: float) -> None:
    """Feed LIVE what node-b says: c on a call there, d paused there, two callers waiting."""
    rows = [
        {
            "endpoint": "PJSIP/c",
            "name": "Cem",
            "state": "on_call",
            "reason": None,
            "departments": ["sales", "support"],
            "since_at": wall - 12,
            "call": None,
        },
        {
            "endpoint": "PJSIP/d",
            "name": "Dora",
            "state": "paused",
            "reason": "training",
            "departments": ["support"],
            "since_at": wall - 30,
            "call": None,
        },
    ]
    queues = [
        {"department": "support", "waiting": 2, "oldest_at": wall - 75},
        {"department": "sales", "waiting": 0, "oldest_at": wall},
    ]
    live.take(json.dumps({"node": "node-b", "url": None, "agents": rows, "queues": queues}))


def test_other_nodes_agents_and_waiting_callers_are_on_the_board() -> None:
    clock = Clock()
    agents = AgentBoard(clock)
    agents.know([("PJSIP/a", "a"), ("PJSIP/c", "c")])  # d is not on this node's board at all
    agents.set_online("PJSIP/c", False)  # c's phone is registered with node-b
    agents.connected("PJSIP/a", "sales")
    queues = Queues(agents)
    queues.join("call-1", "support", 0).arrived = clock.now - 20
    wall = 5_000.0
    live = LiveNodes("node-a", wall=lambda: wall)
    _heard(live, wall)
    board = Wallboard(queues, lambda: DEPARTMENTS, clock, others=live)
    shot = board.snapshot()
    sales, support = shot["departments"]
    assert (sales["waiting"], sales["on_call"], sales["available"]) == (0, 2, 0)
    assert (support["waiting"], support["longest_wait"]) == (3, 75)
    assert (support["on_call"], support["paused"], support["other"]) == (1, 1, 0)
    rows = {row["endpoint"]: row for row in shot["agents"]}
    assert (rows["PJSIP/a"]["state"], rows["PJSIP/a"]["name"]) == ("on_call", "a")
    assert (rows["PJSIP/c"]["state"], rows["PJSIP/c"]["seconds"]) == ("on_call", 12)
    assert (rows["PJSIP/d"]["state"], rows["PJSIP/d"]["reason"]) == ("paused", "training")
    assert rows["PJSIP/d"]["name"] == "Dora"
    assert "PJSIP/b" not in rows  # known nowhere
    # Without the other nodes the board is this node's alone.
    alone = Wallboard(queues, lambda: DEPARTMENTS, clock).snapshot()
    assert alone["departments"][1]["waiting"] == 1
    assert {row["endpoint"] for row in alone["agents"]} == {"PJSIP/a", "PJSIP/c"}


def test_an_agent_online_here_is_shown_as_this_node_sees_them() -> None:
    clock = Clock()
    agents = AgentBoard(clock)
    agents.know([("PJSIP/c", "c")])
    agents.pause("PJSIP/c", True, "break")  # online here: node-b's stale row does not count
    wall = 5_000.0
    live = LiveNodes("node-a", wall=lambda: wall)
    _heard(live, wall)
    board = Wallboard(Queues(agents), lambda: DEPARTMENTS, clock, others=live)
    rows = {row["endpoint"]: row for row in board.snapshot(["sales"])["agents"]}
    assert (rows["PJSIP/c"]["state"], rows["PJSIP/c"]["reason"]) == ("paused", "break")
