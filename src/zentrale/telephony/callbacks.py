"""Callbacks promised at wrap-up, placed by the daemon when they are due.

A callback is an outbound call like click-to-call (`outbound.py`, what VICIdial, Genesys and
Amazon Connect do for agent callbacks): the agent's phone rings first, and only when the agent
answers is the customer dialled; the customer hears the outbound consent notice and the call is
recorded as the department says. The pure part (`decide`, `retry_at`, `CallingHours`) says
whom to ring and when; `CallbackRunner` looks at the due callbacks every few seconds on the
injected clock (a fake one in tests), reserves the agent on the board so no queue rings them
meanwhile, and writes how each attempt went. It claims a callback under a lease in its own
name (`owner`) and renews the leases of the calls it is placing at each look; a callback whose
daemon stopped mid-attempt (its lease ran out) is put back to `scheduled` by whichever daemon
looks next, its attempt counted, and placed again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import structlog

from zentrale.base.errors import ZentraleError
from zentrale.base.outage import Outage
from zentrale.config.settings import CallbackSettings
from zentrale.customers import wrapup
from zentrale.customers.models import Callback
from zentrale.db.session import Database
from zentrale.routing.rules import Rules
from zentrale.surveys.schedule import Window
from zentrale.telephony.agents import AgentState
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.outbound import OutboundResult

log = structlog.get_logger(__name__)


class Placer(Protocol):
    """Places an outbound call (`CallCenter.place`), calling ENDED when it is over."""

    async def __call__(
        self,
        agent: str,
        number: str,
        department: str | None = None,
        *,
        ended: Callable[[], None] | None = None,
    ) -> OutboundResult: ...


@dataclass(frozen=True, slots=True)
class CallingHours:
    """When callbacks may ring customers: a campaign-style window in the rules' time zone."""

    window: Window
    zone: ZoneInfo

    @classmethod
    def of(cls, settings: CallbackSettings, zone: str) -> CallingHours:
        """Build from the settings (`09:00-20:00`, `mon-sat`); ValueError says what is wrong."""
        start, _, end = settings.hours.partition("-")
        try:
            window = Window.parse(start, end, settings.days)
        except ValueError as exc:
            raise ValueError(f"agents.callbacks: {exc}") from None
        return cls(window, ZoneInfo(zone))

    def is_open(self, at: dt.datetime) -> bool:
        """Tell whether AT (aware) is within the calling hours."""
        return self.window.is_open(at, self.zone)

    def check(self, at: dt.datetime, now: dt.datetime) -> str | None:
        """Return why AT cannot be a callback's time (past, outside the hours), or None."""
        if at <= now:
            return "the time is not in the future"
        if not self.is_open(at):
            return f"the time is outside the calling hours ({self.window}, {self.zone.key})"
        return None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a due callback now: ring its agent, another agent, or wait."""

    kind: Literal["agent", "department", "wait", "closed"]
    endpoint: str | None = None


def decide(
    *,
    now: dt.datetime,
    due_at: dt.datetime,
    own_free: bool,
    own: str,
    others_free: Sequence[str],
    agent_wait: dt.timedelta,
    hours: CallingHours,
) -> Decision:
    """Decide a due callback: its own agent when free; after AGENT_WAIT any free agent of the
    department; never outside the calling hours."""
    if not hours.is_open(now):
        return Decision("closed")
    if own_free:
        return Decision("agent", own)
    if now - due_at >= agent_wait and others_free:
        return Decision("department", others_free[0])
    return Decision("wait")


def owner_id(node: str) -> str:
    """Return the name a daemon's callback leases go by: node, host, pid and a random part."""
    return f"{node}:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def retry_at(
    result: str, attempts: int, now: dt.datetime, settings: CallbackSettings
) -> dt.datetime | None:
    """Return when to try again after an attempt ending RESULT (None: answered or given up)."""
    if result == "answered" or attempts > settings.retries:
        return None
    return now + dt.timedelta(seconds=settings.retry_after)


class CallbackRunner:
    """Places the due callbacks of the database from this daemon."""

    def __init__(
        self,
        *,
        db: Database,
        board: AgentBoard,
        place: Placer,
        rules: Callable[[], Rules],
        settings: CallbackSettings,
        clock: Callable[[], dt.datetime],
        owner: str,
    ) -> None:
        self.db, self.board, self._place, self._rules = db, board, place, rules
        self.settings, self.clock, self.owner = settings, clock, owner
        self._placing: set[str] = set()
        """Ids of the callbacks this daemon is placing: their leases are renewed."""
        self.outage = Outage("callbacks.database", log)
        self.placed: list[str] = []
        """Ids of the outbound calls placed (for status and tests)."""
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        CallingHours.of(settings, "UTC")  # refuse bad hours at start, not at the first tick

    def hours(self) -> CallingHours:
        """Return the calling hours in the live rules' time zone."""
        return CallingHours.of(self.settings, self._rules().document.timezone)

    def start(self) -> None:
        """Start looking at due callbacks in the background."""
        self._task = asyncio.create_task(self._run(), name="callbacks")

    async def close(self, drain: float) -> None:
        """Stop placing callbacks; give calls being placed up to DRAIN seconds."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._calls:
            _, late = await asyncio.wait(self._calls, timeout=drain)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the database away: try again at the next tick
                self.outage.failed(exc)
            else:
                self.outage.ok()
            await asyncio.sleep(self.settings.check_every)

    async def tick(self) -> None:
        """Renew this daemon's leases, put callbacks of stopped daemons back, then start the
        callbacks that are due now and have an agent free."""
        now = self.clock()
        async with self.db.write() as session:
            until = now + dt.timedelta(seconds=self.settings.lease)
            await wrapup.extend(session, self.owner, sorted(self._placing), until)
            again, failed = await wrapup.recover(session, now, retries=self.settings.retries)
        if again or failed:
            log.warning("callback.recovered", scheduled=again, failed=failed)
        async with self.db.read() as session:
            due = await wrapup.due(session, now)
        hours = self.hours()
        for callback in due:
            decision = decide(
                now=now,
                due_at=callback.due_at,
                own_free=bool(self.board.free([callback.agent_endpoint])),
                own=callback.agent_endpoint,
                others_free=[view.endpoint for view in self.board.free(self._team(callback))],
                agent_wait=dt.timedelta(seconds=self.settings.agent_wait),
                hours=hours,
            )
            if decision.endpoint is not None and self.board.reserve(decision.endpoint):
                await self._start(callback, decision.endpoint, now)

    def _team(self, callback: Callback) -> list[str]:
        departments = self._rules().document.departments
        department = departments.get(callback.department or "")
        if department is None:
            return []
        return [a.endpoint for a in department.agents if a.endpoint != callback.agent_endpoint]

    async def _start(self, callback: Callback, endpoint: str, now: dt.datetime) -> None:
        until = now + dt.timedelta(seconds=self.settings.lease)
        async with self.db.write() as session:
            claimed = await wrapup.claim(session, callback.id, now, owner=self.owner, until=until)
        if not claimed:
            self.board.release(endpoint)
            return
        log.info("callback.placing", callback=callback.id, agent=endpoint)
        self._placing.add(callback.id)
        task = asyncio.create_task(self._call(callback, endpoint), name=f"callback:{callback.id}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        task.add_done_callback(lambda _: self._placing.discard(callback.id))

    async def _call(self, callback: Callback, endpoint: str) -> None:
        department = callback.department
        wrap_up = self._wrap_up(department)

        def ended() -> None:
            if self.board.view(endpoint).state is AgentState.ON_CALL:
                self.board.finished(endpoint, wrap_up)
            else:
                self.board.release(endpoint)

        placed: str | None = None
        try:
            result = await self._place(endpoint, callback.number, department, ended=ended)
            placed, outcome = result.call_id, result.result
            if outcome == "answered":
                self.board.connected(endpoint, department or "")
            self.placed.append(result.call_id)
        except ZentraleError as exc:  # no trunk for the number, all lines busy
            self.board.release(endpoint)
            outcome = "failed"
            log.warning("callback.not_placed", callback=callback.id, error=exc.code)
        now = self.clock()
        again = retry_at(outcome, callback.attempts + 1, now, self.settings)
        async with self.db.write() as session:
            held = await wrapup.settle(
                session,
                callback.id,
                owner=self.owner,
                result=outcome,
                placed_call_id=placed,
                retry_at=again,
                now=now,
            )
        if not held:
            log.warning("callback.lease_lost", callback=callback.id, result=outcome)
        log.info("callback.attempted", callback=callback.id, result=outcome)

    def _wrap_up(self, department: str | None) -> float:
        found = self._rules().document.departments.get(department or "")
        return found.wrap_up if found is not None else 0.0
