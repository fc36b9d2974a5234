"""The supervisors' snapshot and the monitor's pure decisions, from a real agent board and real
queues on a hand-moved clock (no Asterisk needed)."""

from __future__ import annotations

import pytest

from zentrale.telephony.board import AgentBoard
from zentrale.telephony.monitor import Mode, Session, Target, directions, in_recording, in_scope
from zentrale.telephony.queueing import Queues
from zentrale.telephony.supervision import LiveCall, snapshot

DEPARTMENTS = {"sales": ["PJSIP/a", "PJSIP/b"], "support": ["PJSIP/b", "PJSIP/c"]}


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _floor() -> tuple[AgentBoard, Queues, Clock]:
    clock = Clock()
    board = AgentBoard(clock)
    board.know([("PJSIP/a", "Ayşe"), ("PJSIP/b", "Berk"), ("PJSIP/c", "Cem")])
    return board, Queues(board), clock


def _agents(shown: dict[str, object]) -> dict[str, dict[str, object]]:
    return {row["endpoint"]: row for row in shown["agents"]}  # type: ignore[attr-defined, index]


def test_each_mode_whispers_in_its_own_direction_and_only_barge_is_recorded() -> None:
    assert directions(Mode.LISTEN) == ("both", "none")
    assert directions(Mode.WHISPER) == ("both", "out")
    assert directions(Mode.BARGE) == ("both", "both")
    assert [in_recording(mode) for mode in Mode] == [False, False, True]


@pytest.mark.parametrize(
    ("departments", "department", "allowed"),
    [
        (None, "sales", True),
        (None, None, True),
        (("sales",), "sales", True),
        (("support",), "sales", False),
        (("sales",), None, False),
        ((), "sales", False),
    ],
)
def test_a_call_is_in_scope_of_its_department_only(
    departments: tuple[str, ...] | None, department: str | None, allowed: bool
) -> None:
    assert in_scope(departments, department) is allowed


def test_states_time_in_state_and_pause_reasons() -> None:
    board, queues, clock = _floor()
    clock.now += 5
    board.pause("PJSIP/b", True, "break")
    clock.now += 30
    board.connected("PJSIP/a", "sales")
    clock.now += 12
    shown = snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=clock.now)
    agents = _agents(shown)
    assert [row["name"] for row in shown["agents"]] == ["Ayşe", "Berk", "Cem"]
    assert (agents["PJSIP/a"]["state"], agents["PJSIP/a"]["in_state_s"]) == ("on_call", 12)
    assert agents["PJSIP/b"]["state"] == "paused"
    assert (agents["PJSIP/b"]["reason"], agents["PJSIP/b"]["in_state_s"]) == ("break", 42)
    assert agents["PJSIP/b"]["departments"] == ["sales", "support"]
    assert (agents["PJSIP/c"]["state"], agents["PJSIP/c"]["in_state_s"]) == ("available", 47)
    assert agents["PJSIP/c"]["reason"] is None


def test_after_call_work_reads_available_once_its_time_is_over() -> None:
    board, queues, clock = _floor()
    board.connected("PJSIP/a", "sales")
    clock.now += 60
    board.finished("PJSIP/a", 10)
    clock.now += 4
    row = _agents(snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=clock.now))
    assert (row["PJSIP/a"]["state"], row["PJSIP/a"]["in_state_s"]) == ("after_call_work", 4)
    clock.now += 10
    row = _agents(snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=clock.now))
    assert (row["PJSIP/a"]["state"], row["PJSIP/a"]["in_state_s"]) == ("available", 4)


def test_a_supervisor_sees_the_agents_and_queues_of_their_departments_only() -> None:
    board, queues, clock = _floor()
    ticket = queues.join("call-9", "support", 0)
    ticket.arrived = clock.now - 33.6
    queues.join("call-8", "sales", 0).arrived = clock.now - 2
    shown = snapshot(board, queues, DEPARTMENTS, [], [], only=("support",), now=clock.now)
    assert set(_agents(shown)) == {"PJSIP/b", "PJSIP/c"}
    assert _agents(shown)["PJSIP/b"]["departments"] == ["support"]
    assert shown["queues"] == [{"department": "support", "waiting": 1, "longest_wait_s": 33}]
    nothing = snapshot(board, queues, DEPARTMENTS, [], [], only=(), now=clock.now)
    assert nothing == {"agents": [], "queues": []}


def test_a_call_shows_its_duration_a_masked_number_and_who_monitors_it() -> None:
    board, queues, clock = _floor()
    board.connected("PJSIP/a", "sales")
    call = LiveCall("c1", "PJSIP/a", "sales", "+905551112233", connected_at=clock.now)
    session = Session(
        "s1",
        Target("c1", "agent-1", "PJSIP/a", "sales"),
        supervisor="sue",
        endpoint="PJSIP/8002",
        mode=Mode.WHISPER,
        bridge_id="monitor-s1",
    )
    clock.now += 95
    shown = snapshot(board, queues, DEPARTMENTS, [call], [session], only=None, now=clock.now)
    row = _agents(shown)["PJSIP/a"]["call"]
    assert isinstance(row, dict)
    assert (row["call_id"], row["department"], row["duration_s"]) == ("c1", "sales", 95)
    assert "5551112233" not in row["caller"]
    assert row["monitor"]["mode"] == "whisper"
    assert row["monitor"]["supervisor"] == "sue"
    assert _agents(shown)["PJSIP/b"]["call"] is None
