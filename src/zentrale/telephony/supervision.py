"""What the supervisors' page shows: every agent's state and call, and the queues' waits.

A pure function of the live facts (the board's views and since-times, the connected calls, the
departments of the live rules, the queues' tickets, the running monitor sessions) and the
moment `now`; the HTTP edge sends it over a server-sent event stream whenever it changes. A
supervisor sees the departments they are given (`users.departments`), an administrator all
(`only=None`); an agent of several departments is shown when one of them is in scope, and
their call carries its own department (what may be monitored is decided on that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zentrale.config.logging import mask_number
from zentrale.telephony.agents import AgentState, AgentView
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.monitor import Session
from zentrale.telephony.queueing import Queues

STATE_WORDS = {
    AgentState.IDLE: "available",
    AgentState.BUSY: "available",
    AgentState.PAUSED: "paused",
    AgentState.WRAP_UP: "after_call_work",
    AgentState.RINGING: "ringing",
    AgentState.ON_CALL: "on_call",
    AgentState.OFFLINE: "offline",
}
"""An agent's board state in the words of the workspace and the supervisors' page."""


@dataclass(frozen=True)
class LiveCall:
    """A call connected to an agent now."""

    call_id: str
    agent_endpoint: str
    department: str | None
    caller: str
    connected_at: float


def label(view: AgentView, since: float, now: float) -> tuple[str, float]:
    """Return the agent's state in the workspace's words and since when it holds.

    After-call work whose time is over reads "available" from the end of the wrap-up.
    """
    if view.state is AgentState.WRAP_UP and now >= view.wrap_up_until:
        return "available", max(since, view.wrap_up_until)
    return STATE_WORDS[view.state], since


def snapshot(
    board: AgentBoard,
    queues: Queues,
    departments: Mapping[str, Sequence[str]],
    calls: Sequence[LiveCall],
    sessions: Sequence[Session],
    *,
    only: Sequence[str] | None,
    now: float,
) -> dict[str, Any]:
    """Return the page's data: agents (by name) and queues (by department) in scope."""
    shown = {d: e for d, e in sorted(departments.items()) if only is None or d in only}
    homes: dict[str, list[str]] = {}
    for department, endpoints in shown.items():
        for endpoint in endpoints:
            homes.setdefault(endpoint, []).append(department)
    by_agent = {call.agent_endpoint: call for call in calls}
    watching = {s.target.call_id: s for s in sessions}
    agents = []
    for view in board.snapshot():
        if view.endpoint not in homes:
            continue
        state, since = label(view, board.since(view.endpoint), now)
        row: dict[str, Any] = {
            "endpoint": view.endpoint,
            "name": view.name,
            "departments": homes[view.endpoint],
            "state": state,
            "reason": board.reason(view.endpoint) if state == "paused" else None,
            "in_state_s": int(max(now - since, 0.0)),
            "call": None,
        }
        call = by_agent.get(view.endpoint)
        if call is not None:
            session = watching.get(call.call_id)
            row["call"] = {
                "call_id": call.call_id,
                "department": call.department,
                "caller": mask_number(call.caller),
                "duration_s": int(max(now - call.connected_at, 0.0)),
                "monitor": session.as_json() if session is not None else None,
            }
        agents.append(row)
    agents.sort(key=lambda row: (row["name"], row["endpoint"]))
    return {"agents": agents, "queues": [_queue(queues, d, now) for d in shown]}


def _queue(queues: Queues, department: str, now: float) -> dict[str, Any]:
    waiting = queues.waiting(department)
    longest = max((now - ticket.arrived for ticket in waiting), default=0.0)
    return {"department": department, "waiting": len(waiting), "longest_wait_s": int(longest)}
