"""The agent state log: every change of an agent's state on the board, written as intervals.

The board tells `AgentLog.changed` each change (`AgentBoard.observe`); the log keeps each
agent's open interval in memory and queues its writes on the call journal, so they are stamped
when they happen, never block the board and are retried in order while the database is away
(lost only if the daemon dies with them still queued). Signed in means the agent's phone is
registered (Asterisk's presence: signed out until Asterisk told it; simulated Local/ agents
always are): a phone going offline ends the open interval and opens none, whatever the board
says (paused included). The board's states are folded: idle and busy (the phone refused a
ring) are `available`; an after-call-work interval ends when the wrap-up time runs out even if
nothing else changed then.

`start` closes the intervals a previous run of this node left open, at the last time that run
wrote (a crash loses the time since its last change); `close` ends this run's at the stop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.clock import utcnow
from zentrale.calls.agent_states import AgentStateRow, LogState
from zentrale.calls.store import TimelineRows
from zentrale.telephony.agents import AgentState
from zentrale.telephony.board import Change
from zentrale.telephony.journal import Write

log = structlog.get_logger(__name__)

FOLDED: dict[AgentState, LogState] = {
    AgentState.IDLE: LogState.AVAILABLE,
    AgentState.BUSY: LogState.AVAILABLE,
    AgentState.RINGING: LogState.RINGING,
    AgentState.ON_CALL: LogState.ON_CALL,
    AgentState.WRAP_UP: LogState.AFTER_CALL_WORK,
    AgentState.PAUSED: LogState.PAUSED,
}


class Writes(Protocol):
    """Where the log's writes go: the call journal (`Journal.write`)."""

    def write(self, what: str, write: Write) -> None:
        """Queue WRITE."""


@dataclass
class _Open:
    name: str
    state: LogState
    reason: str | None
    acw_until: dt.datetime | None = None


# Built once, values as parameters: the log writes on every agent state change, and a
# statement built per write has SQLAlchemy compute its cache key each time.
_BEGIN = insert(AgentStateRow)
_END = (
    update(AgentStateRow)
    .where(
        and_(
            AgentStateRow.node == bindparam("p_node"),
            AgentStateRow.endpoint == bindparam("p_endpoint"),
            AgentStateRow.ended_at.is_(None),
        )
    )
    .values(ended_at=bindparam("p_at"))
)


def folded(change: Change) -> LogState | None:
    """Return the state the log records for CHANGE (None: signed out, no interval)."""
    if not change.online:
        return None
    return FOLDED.get(change.state)


class AgentLog:
    """Turns the board's changes into agent_states rows for one node."""

    def __init__(
        self, writes: Writes, node: str, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self._writes, self._node, self._clock = writes, node, clock
        self._open: dict[str, _Open] = {}

    def start(self) -> None:
        """Queue the closing of the intervals an earlier run of this node left open."""
        node, started = self._node, self._clock()

        async def write(session: AsyncSession, _later: TimelineRows) -> None:
            mine = AgentStateRow.node == node
            found = (
                await session.execute(
                    select(
                        func.max(AgentStateRow.started_at), func.max(AgentStateRow.ended_at)
                    ).where(mine, AgentStateRow.started_at < started)
                )
            ).one()
            last = max((at for at in found if at is not None), default=None)
            if last is None:
                return
            query = (
                update(AgentStateRow)
                .where(mine, AgentStateRow.ended_at.is_(None), AgentStateRow.started_at < started)
                .values(ended_at=last)
            )
            closed = int(getattr(await session.execute(query), "rowcount", 0) or 0)
            if closed:
                log.warning("agent_states.closed_left_open", count=closed, node=node)

        self._writes.write("agent_states_close", write)

    def changed(self, change: Change) -> None:
        """Record CHANGE: end the agent's open interval and open the new one."""
        now = self._clock()
        endpoint, state = change.endpoint, folded(change)
        current = self._ran_out(endpoint, now)
        reason = change.reason if state is LogState.PAUSED else None
        if current is not None and (current.state, current.reason) == (state, reason):
            return
        if current is not None:
            self._end(endpoint, now)
        if state is not None:
            left = dt.timedelta(seconds=change.wrap_up_left)
            until = now + left if state is LogState.AFTER_CALL_WORK else None
            self._begin(endpoint, _Open(change.name, state, reason, until), now)

    def close(self) -> None:
        """End every open interval now (the daemon stops); queued before the journal closes."""
        now = self._clock()
        for endpoint in list(self._open):
            if self._ran_out(endpoint, now) is not None:
                self._end(endpoint, now)

    def _ran_out(self, endpoint: str, now: dt.datetime) -> _Open | None:
        """Return the open interval, first ending an after-call work whose time ran out."""
        current = self._open.get(endpoint)
        if current is None or current.acw_until is None or current.acw_until >= now:
            return current
        self._end(endpoint, current.acw_until)
        available = _Open(current.name, LogState.AVAILABLE, None)
        self._begin(endpoint, available, current.acw_until)
        return available

    def _begin(self, endpoint: str, interval: _Open, at: dt.datetime) -> None:
        self._open[endpoint] = interval
        values = {
            "endpoint": endpoint,
            "agent_name": interval.name or None,
            "node": self._node,
            "state": interval.state,
            "reason": interval.reason,
            "started_at": at,
        }

        async def write(session: AsyncSession, _later: TimelineRows) -> None:
            await (await session.connection()).execute(_BEGIN, values)

        self._writes.write("agent_state", write)

    def _end(self, endpoint: str, at: dt.datetime) -> None:
        self._open.pop(endpoint, None)
        node = self._node

        async def write(session: AsyncSession, _later: TimelineRows) -> None:
            parameters = {"p_node": node, "p_endpoint": endpoint, "p_at": at}
            await (await session.connection()).execute(_END, parameters)

        self._writes.write("agent_state", write)
