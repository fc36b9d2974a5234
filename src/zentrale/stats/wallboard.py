"""The live wallboard: per department, callers waiting, the longest wait and what agents do;
per agent, the state, for how long, and why paused.

Read from the daemon's live objects (the queues' tickets and the agent board), never from the
database, so it shows this node's calls as they are now. `Wallboard.snapshot()` is cheap and
pure reading; the SSE route sends it whenever it changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from zentrale.telephony.agents import AgentState
from zentrale.telephony.queueing import Queues

Departments = Callable[[], Mapping[str, Sequence[str]]]
"""Returns each department of the live rules and its agents' endpoints."""


class Wallboard:
    """Snapshots of the live queues and agents."""

    def __init__(
        self, queues: Queues, departments: Departments, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.queues = queues
        self._departments = departments
        self._clock = clock

    def snapshot(self, only: Sequence[str] | None = None) -> dict[str, Any]:
        """Return the board (ONLY these departments when given), departments in name order."""
        now = self._clock()
        states = {view.endpoint: view.state for view in self.queues.board.snapshot()}
        rows = []
        for name, endpoints in sorted(self._departments().items()):
            if only is not None and name not in only:
                continue
            waiting = self.queues.waiting(name)
            longest = max((now - ticket.arrived for ticket in waiting), default=0.0)
            agents = [states.get(endpoint, AgentState.OFFLINE) for endpoint in endpoints]
            rows.append(
                {
                    "department": name,
                    "waiting": len(waiting),
                    "longest_wait": int(longest),
                    "available": agents.count(AgentState.IDLE),
                    "on_call": agents.count(AgentState.ON_CALL),
                    "paused": agents.count(AgentState.PAUSED),
                    "other": sum(1 for s in agents if s not in _COUNTED),
                }
            )
        return {"departments": rows, "agents": self._agents(only, now)}

    def _agents(self, only: Sequence[str] | None, now: float) -> list[dict[str, Any]]:
        """Return one live row per agent of the departments shown: state, seconds in it, and
        the pause reason; a wrap-up whose time ran out shows as idle."""
        board = self.queues.board
        known = {view.endpoint: view for view in board.snapshot()}
        departments: dict[str, list[str]] = {}
        for name, endpoints in sorted(self._departments().items()):
            if only is None or name in only:
                for endpoint in endpoints:
                    departments.setdefault(endpoint, []).append(name)
        rows = []
        for endpoint, names in sorted(departments.items()):
            view = known.get(endpoint)
            if view is None:
                continue
            state = view.state
            if state is AgentState.WRAP_UP and not board.in_wrap_up(endpoint):
                state = AgentState.IDLE
            rows.append(
                {
                    "endpoint": endpoint,
                    "name": view.name,
                    "departments": names,
                    "state": state.value,
                    "seconds": int(max(now - board.since(endpoint), 0.0)),
                    "reason": board.reason(endpoint),
                }
            )
        return rows


_COUNTED = frozenset({AgentState.IDLE, AgentState.ON_CALL, AgentState.PAUSED})
