"""Department queues: callers wait in order of priority and arrival while agents are rung.

Each waiting caller holds a ticket and hunts for an agent from its own task. A ticket may ring
only when every ticket ahead of it in its department is already ringing someone, so callers are
served in order while several can ring different agents at once. Within a hunt, agents are rung
in the waves of the department's strategy; one who does not answer, is busy or unavailable is
skipped until everyone free has been tried.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog

from zentrale.routing.schema import Department
from zentrale.telephony.agents import AgentView, first_wave
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.ringing import Leg, RingResult

log = structlog.get_logger(__name__)

Ringer = Callable[[AgentView], Awaitable[Leg]]
OnRung = Callable[[AgentView, Leg], Awaitable[None]]
Drop = Callable[[Leg], Awaitable[None]]
_order = itertools.count()
REFUSED = frozenset({RingResult.BUSY, RingResult.UNAVAILABLE})
"""Ring results that say the phone cannot take calls now: the board backs off from it."""


@dataclass(eq=False)
class Ticket:
    """A caller waiting in a department's queue."""

    call_id: str
    department: str
    priority: int
    seq: int = field(default_factory=lambda: next(_order))
    arrived: float = field(default_factory=time.monotonic)
    ringing: bool = False
    tried: set[str] = field(default_factory=set)

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key: higher priority first, then earlier arrival."""
        return -self.priority, self.seq


class Queues:
    """Waiting tickets per department, shared by every call on this daemon."""

    def __init__(self, board: AgentBoard) -> None:
        self.board = board
        self._waiting: dict[str, list[Ticket]] = {}

    def join(self, call_id: str, department: str, priority: int) -> Ticket:
        """Put a caller in DEPARTMENT's queue."""
        ticket = Ticket(call_id, department, priority)
        line = self._waiting.setdefault(department, [])
        line.append(ticket)
        line.sort(key=lambda waiting: waiting.rank)
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """Take a ticket out of its queue (answered, gave up, overflowed)."""
        line = self._waiting.get(ticket.department, [])
        if ticket in line:
            line.remove(ticket)
        self.board.notify()

    def position(self, ticket: Ticket) -> int:
        """Return the ticket's 0-based place in its queue."""
        return self._waiting.get(ticket.department, []).index(ticket)

    def may_ring(self, ticket: Ticket) -> bool:
        """Tell whether every ticket ahead of TICKET is already ringing someone."""
        line = self._waiting.get(ticket.department, [])
        return all(ahead.ringing for ahead in line[: line.index(ticket)])

    def waiting(self, department: str) -> Sequence[Ticket]:
        """Return the tickets of DEPARTMENT, first served first."""
        return tuple(self._waiting.get(department, []))

    async def hunt(
        self,
        ticket: Ticket,
        department: Department,
        ring: Ringer,
        on_rung: OnRung,
        drop: Drop,
        max_wait: float,
    ) -> Leg | None:
        """Ring agents for TICKET until one answers (its leg) or MAX_WAIT passes (None)."""
        deadline = time.monotonic() + max_wait
        endpoints = [agent.endpoint for agent in department.agents]
        while (remaining := deadline - time.monotonic()) > 0:
            wave = self._next_wave(ticket, department, endpoints) if self.may_ring(ticket) else []
            if not wave:
                await self.board.wait_change(min(remaining, 1.0))
                continue
            leg = await self._ring_wave(ticket, wave, (ring, on_rung, drop), remaining)
            if leg is not None:
                return leg
        return None

    def _next_wave(
        self, ticket: Ticket, department: Department, endpoints: list[str]
    ) -> list[AgentView]:
        free = self.board.free(endpoints)
        if free and all(agent.endpoint in ticket.tried for agent in free):
            ticket.tried.clear()  # everyone free was tried: start over
        untried = [agent for agent in free if agent.endpoint not in ticket.tried]
        last = self.board.last_answered.get(ticket.department)
        wave = first_wave(department.strategy, untried, last_answered=last)
        return [agent for agent in wave if self.board.reserve(agent.endpoint)]

    async def _ring_wave(
        self,
        ticket: Ticket,
        wave: list[AgentView],
        hooks: tuple[Ringer, OnRung, Drop],
        remaining: float,
    ) -> Leg | None:
        ring, on_rung, drop = hooks
        ticket.ringing = True
        self.board.notify()
        tasks = {asyncio.create_task(_call(ring, agent)): agent for agent in wave}
        try:
            return await _first_answer(
                tasks=tasks,
                hooks=(on_rung, drop),
                ticket=ticket,
                board=self.board,
                remaining=remaining,
            )
        finally:
            ticket.ringing = False
            for agent in wave:
                self.board.release(agent.endpoint)


async def _first_answer(
    tasks: dict[asyncio.Task[Leg], AgentView],
    hooks: tuple[OnRung, Drop],
    ticket: Ticket,
    board: AgentBoard,
    remaining: float,
) -> Leg | None:
    _, drop = hooks
    pending = set(tasks)
    winner: Leg | None = None
    try:
        while pending and winner is None:
            done, pending = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                break
            for task in done:
                winner = await _settle(
                    leg=task.result(),
                    winner=winner,
                    agent=tasks[task],
                    ticket=ticket,
                    hooks=hooks,
                    board=board,
                )
    finally:
        for task in pending:
            task.cancel()
        late = await asyncio.gather(*pending, return_exceptions=True)
        for leg in late:
            # A leg that answered just as the others were cancelled must not stay up.
            if isinstance(leg, Leg) and leg.result is RingResult.ANSWERED:
                await drop(leg)
    if winner is not None:
        board.connected(winner.endpoint, ticket.department)
    return winner


async def _settle(
    leg: Leg,
    winner: Leg | None,
    agent: AgentView,
    ticket: Ticket,
    hooks: tuple[OnRung, Drop],
    board: AgentBoard,
) -> Leg | None:
    on_rung, drop = hooks
    ticket.tried.add(leg.endpoint)
    if leg.result in REFUSED:
        board.refused(leg.endpoint)
    await on_rung(agent, leg)
    if leg.result is not RingResult.ANSWERED:
        return winner
    if winner is None:
        return leg
    await drop(leg)  # two answered in the same instant: the first one keeps the call
    return winner


async def _call(ring: Ringer, agent: AgentView) -> Leg:
    return await ring(agent)
