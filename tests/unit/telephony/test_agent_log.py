"""The agent state log: the board's changes become intervals, queued as ordered writes."""

from __future__ import annotations

import datetime as dt

from zentrale.calls.agent_states import LogState
from zentrale.telephony.agent_log import AgentLog
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.journal import Write

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


class Writes:
    """Keeps the queued writes' names; the intervals are read from the log itself."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def write(self, what: str, write: Write) -> None:
        self.names.append(what)


class Clocks:
    def __init__(self) -> None:
        self.mono = 100.0

    def wall(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.mono - 100.0)

    def __call__(self) -> float:
        return self.mono


def test_states_are_folded_and_a_run_out_wrap_up_becomes_available() -> None:
    clocks, writes = Clocks(), Writes()
    board = AgentBoard(clocks)
    agent_log = AgentLog(writes, "node-1", clocks.wall)
    board.observe(agent_log.changed)
    board.know([("PJSIP/1", "One")])
    board.set_online("PJSIP/1", True)
    assert agent_log._open["PJSIP/1"].state is LogState.AVAILABLE
    board.pause("PJSIP/1", True, "break")
    board.pause("PJSIP/1", True, "training")  # another reason: another interval
    assert agent_log._open["PJSIP/1"].reason == "training"
    board.pause("PJSIP/1", False)
    board.connected("PJSIP/1", "sales")
    board.finished("PJSIP/1", wrap_up=30)
    assert agent_log._open["PJSIP/1"].acw_until == T0 + dt.timedelta(seconds=30)
    clocks.mono += 45
    board.set_online("PJSIP/1", False)  # signed out: no interval open
    assert "PJSIP/1" not in agent_log._open
    # begin available, (end, begin) x 5 (break, training, available, on call, wrap-up), the
    # wrap-up ran out (end, begin available), signed out (end)
    assert writes.names.count("agent_state") == 1 + 2 * 5 + 2 + 1
    board.set_online("PJSIP/1", True)
    agent_log.close()
    assert agent_log._open == {}


def test_an_agent_is_signed_out_to_the_log_until_asterisk_tells_its_presence() -> None:
    clocks, writes = Clocks(), Writes()
    board = AgentBoard(clocks)
    agent_log = AgentLog(writes, "node-1", clocks.wall)
    board.observe(agent_log.changed)
    board.know([("PJSIP/1", "One"), ("PJSIP/2", "Two"), ("Local/3@agents", "Three")])
    assert set(agent_log._open) == {"Local/3@agents"}  # simulated agents are always online
    board.pause("PJSIP/1", True, "break")  # still unknown: nothing logged
    board.set_online("PJSIP/2", False)
    assert set(agent_log._open) == {"Local/3@agents"}
    board.set_online("PJSIP/1", True)
    assert agent_log._open["PJSIP/1"].state is LogState.PAUSED
    assert writes.names.count("agent_state") == 2


def test_a_change_tells_that_agent_alone_and_a_late_observer_hears_everyone() -> None:
    clocks = Clocks()
    board = AgentBoard(clocks)
    board.know([(f"Local/{n}@agents", f"Agent {n}") for n in range(3)])
    board.pause("Local/1@agents", True, "break")  # nobody observes yet
    heard: list[tuple[str, str]] = []
    board.observe(lambda change: heard.append((change.endpoint, change.state.value)))
    assert sorted(heard) == [
        ("Local/0@agents", "idle"),
        ("Local/1@agents", "paused"),
        ("Local/2@agents", "idle"),
    ]
    heard.clear()
    board.connected("Local/2@agents", "sales")
    board.notify()  # a queue moved: nobody changed
    board.finished("Local/2@agents", wrap_up=30)
    clocks.mono += 45  # the wrap-up runs out, which is no change until the agent is asked for
    board.pause("Local/0@agents", True, "lunch")
    assert heard == [
        ("Local/2@agents", "on_call"),
        ("Local/2@agents", "wrap_up"),
        ("Local/0@agents", "paused"),
    ]
    assert [view.endpoint for view in board.free(["Local/0@agents", "Local/2@agents"])] == [
        "Local/2@agents"
    ]


def test_the_next_wake_follows_every_change_of_the_board() -> None:
    clocks = Clocks()
    board = AgentBoard(clocks)
    board.know([("Local/1@agents", "One"), ("Local/2@agents", "Two")])
    assert board.next_wake() is None
    board.connected("Local/1@agents", "sales")
    board.finished("Local/1@agents", wrap_up=30)
    assert board.next_wake() == 130.0
    assert board.next_wake() == 130.0  # asked again, nothing changed
    assert board.refused("Local/2@agents") == 2.0
    assert board.next_wake() == 102.0  # the busy back-off ends first
    board.set_online("Local/2@agents", False)  # its phone changed: no back-off any more
    assert board.next_wake() == 130.0
    board.ready("Local/1@agents")
    assert board.next_wake() is None
