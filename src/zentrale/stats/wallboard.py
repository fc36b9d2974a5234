"""The live wallboard: per department, callers waiting, the longest wait and what agents do;
per agent, the state, for how long, and why paused.

Read from the daemon's live objects (the queues' tickets and the agent board), never from the
database, so it shows the calls as they are now; with several nodes, or on an API replica, the
other nodes' queues and agents as they last said them over the live bus are added.
`Wallboard.snapshot()` is cheap and pure reading; the SSE route sends it whenever it changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zentrale.telephony.agents import AgentState
from zentrale.telephony.queueing import Queues

Departments = Callable[[], Mapping[str, Sequence[str]]]
"""Returns each department of the live rules and its agents' endpoints."""


class OtherNodes(Protocol):
    """What the other nodes last said over the live bus (`ops.live.LiveNodes`)."""

    def agent(self, endpoint: str) -> dict[str, Any] | None:
        """Another node's row of ENDPOINT where it is online (state, in_state_s, reason)."""

    def waiting(self) -> dict[str, tuple[int, float]]:
        """Per department, the callers waiting on the other nodes and the longest wait (s)."""


@dataclass(frozen=True)
class _Seen:
    """One agent as the board shows them: state, seconds in it, pause reason, name."""

    state: AgentState
    seconds: int
    reason: str | None
    name: str


class Wallboard:
    """Snapshots of the live queues and agents: this node's, and with OTHERS (several nodes,
    or an API replica with no calls of its own) every node's."""

    def __init__(
        self,
        queues: Queues,
        departments: Departments,
        clock: Callable[[], float] = time.monotonic,
        others: OtherNodes | None = None,
    ) -> None:
        self.queues = queues
        self._departments = departments
        self._clock = clock
        self._others = others

    def snapshot(self, only: Sequence[str] | None = None) -> dict[str, Any]:
        """Return the board (ONLY these departments when given), departments in name order."""
        now = self._clock()
        shown = {
            name: endpoints
            for name, endpoints in sorted(self._departments().items())
            if only is None or name in only
        }
        seen = self._seen({e for endpoints in shown.values() for e in endpoints}, now)
        elsewhere = self._others.waiting() if self._others is not None else {}
        rows = []
        for name, endpoints in shown.items():
            waiting = self.queues.waiting(name)
            longest = max((now - ticket.arrived for ticket in waiting), default=0.0)
            count, oldest = elsewhere.get(name, (0, 0.0))
            agents = [seen[e].state if e in seen else AgentState.OFFLINE for e in endpoints]
            rows.append(
                {
                    "department": name,
                    "waiting": len(waiting) + count,
                    "longest_wait": int(max(longest, oldest)),
                    "available": agents.count(AgentState.IDLE),
                    "on_call": agents.count(AgentState.ON_CALL),
                    "paused": agents.count(AgentState.PAUSED),
                    "other": sum(1 for s in agents if s not in _COUNTED),
                }
            )
        return {"departments": rows, "agents": self._agents(shown, seen)}

    def _seen(self, endpoints: set[str], now: float) -> dict[str, _Seen]:
        """Return how each of ENDPOINTS is seen: on this node's board, or where another node
        has them online; a wrap-up whose time ran out shows as idle."""
        board = self.queues.board
        known = {view.endpoint: view for view in board.snapshot()}
        seen = {}
        for endpoint in sorted(endpoints):
            view = known.get(endpoint)
            row = None
            if self._others is not None and (view is None or view.state is AgentState.OFFLINE):
                row = self._others.agent(endpoint)
            if row is not None:
                state = AgentState(str(row["state"]))
                reason = row.get("reason")
                name = str(row.get("name") or (view.name if view else endpoint))
                seconds = int(row.get("in_state_s", 0))
                seen[endpoint] = _Seen(state, seconds, str(reason) if reason else None, name)
            elif view is not None:
                state = view.state
                if state is AgentState.WRAP_UP and not board.in_wrap_up(endpoint):
                    state = AgentState.IDLE
                seconds = int(max(now - board.since(endpoint), 0.0))
                seen[endpoint] = _Seen(state, seconds, board.reason(endpoint), view.name)
        return seen

    @staticmethod
    def _agents(
        shown: Mapping[str, Sequence[str]], seen: Mapping[str, _Seen]
    ) -> list[dict[str, Any]]:
        """Return one live row per agent of the departments SHOWN: state, seconds in it, and
        the pause reason."""
        departments: dict[str, list[str]] = {}
        for name, endpoints in shown.items():
            for endpoint in endpoints:
                departments.setdefault(endpoint, []).append(name)
        rows = []
        for endpoint, names in sorted(departments.items()):
            agent = seen.get(endpoint)
            if agent is None:
                continue
            rows.append(
                {
                    "endpoint": endpoint,
                    "name": agent.name,
                    "departments": names,
                    "state": agent.state.value,
                    "seconds": agent.seconds,
                    "reason": agent.reason,
                }
            )
        return rows


_COUNTED = frozenset({AgentState.IDLE, AgentState.ON_CALL, AgentState.PAUSED})
