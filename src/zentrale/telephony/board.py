"""The board of agents: who is free, ringing, on a call, wrapping up, paused or offline.

One board serves every department (an agent may sit in several), so an agent rung for one
department is not rung for another at the same time. All changes happen on the event loop and
wake the callers waiting for a free agent. Asterisk's view (endpoint offline) and ours (on a
call through zentrale) are combined here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from zentrale.telephony.agents import AgentState, AgentView, is_free

Clock = Callable[[], float]
_UNKNOWN = object()
BUSY_BACKOFF = 2.0
"""Seconds a phone that refused a ring is left alone; doubled at each refusal in a row."""
BUSY_BACKOFF_MAX = 30.0


@dataclass
class _Agent:
    view: AgentView
    paused: bool = False
    reason: str | None = None
    online: bool = True
    known: bool = False
    """Whether Asterisk said if the phone is registered (`set_online`); Local/ agents always
    are. Until then the observers (the agent state log) see the agent as offline."""
    refusals: int = 0
    shown: AgentState | None = None
    """The state last seen by `_wake`, and since when (monotonic): the supervisors' page."""
    since: float = 0.0
    told: tuple[AgentState, str | None, bool] | None = None
    """The (state, reason, online) last handed to the observers."""
    waiting: asyncio.Event | None = None
    """Set when this agent changes, for those that follow this agent alone (`wait_change_of`);
    made by the first of them to wait."""
    waited_on: tuple[object, ...] = ()
    """What this agent's followers last saw (its view, pause, reason, phone)."""


@dataclass(frozen=True)
class Change:
    """An agent's state as the observers are told it (the agent state log)."""

    endpoint: str
    name: str
    state: AgentState
    reason: str | None
    online: bool
    wrap_up_left: float
    """Seconds of after-call work left (0 unless in wrap-up)."""


Observer = Callable[[Change], None]


class AgentBoard:
    """Live agent states and reservations."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._agents: dict[str, _Agent] = {}
        self._changed = asyncio.Event()
        self.last_answered: dict[str, str] = {}
        """Per department, the endpoint that answered last (for round robin)."""
        self._observers: list[Observer] = []
        self._next_wake: float | object | None = _UNKNOWN

    def observe(self, observer: Observer) -> None:
        """Call OBSERVER with each agent's state (or reason, or presence) whenever it changes;
        agents no observer has heard of yet are told at once."""
        self._observers.append(observer)
        now = self._clock()
        for endpoint, agent in self._agents.items():
            self._tell(agent, self.view(endpoint), now)

    def know(self, agents: Iterable[tuple[str, str]]) -> list[str]:
        """Add agents (endpoint, name) not on the board yet, as idle; return their endpoints.

        Their presence is unknown (offline to the observers) until `set_online`, except for
        Local/ agents (simulated, always online)."""
        added = []
        for endpoint, name in agents:
            if endpoint not in self._agents:
                view = AgentView(endpoint, name, AgentState.IDLE, idle_since=0.0)
                agent = _Agent(
                    view, known=endpoint.startswith("Local/"), shown=view.state, since=self._clock()
                )
                self._agents[endpoint] = agent
                self._tell(agent, view, self._clock())
                added.append(endpoint)
        self._next_wake = _UNKNOWN
        return added

    def view(self, endpoint: str) -> AgentView:
        """Return the agent's current view (state as the strategies see it)."""
        agent = self._agents[endpoint]
        if agent.paused:
            return replace(agent.view, state=AgentState.PAUSED)
        if not agent.online:
            return replace(agent.view, state=AgentState.OFFLINE)
        return agent.view

    def free(self, endpoints: Iterable[str]) -> list[AgentView]:
        """Return the agents among ENDPOINTS that may be rung now, in the order given."""
        now = self._clock()
        views = [self.view(endpoint) for endpoint in endpoints if endpoint in self._agents]
        return [view for view in views if is_free(view, now)]

    def reserve(self, endpoint: str) -> bool:
        """Mark a free agent as ringing; False when someone else took it meanwhile."""
        if not self.free([endpoint]):
            return False
        self._set(endpoint, AgentState.RINGING)
        return True

    def release(self, endpoint: str) -> None:
        """Put a rung agent who did not take the call back to idle (keeping idle_since)."""
        if self._agents[endpoint].view.state is AgentState.RINGING:
            self._set(endpoint, AgentState.IDLE)

    def connected(self, endpoint: str, department: str) -> None:
        """Mark the agent on a call for DEPARTMENT."""
        self._agents[endpoint].refusals = 0
        self._set(endpoint, AgentState.ON_CALL)
        self.last_answered[department] = endpoint

    def refused(self, endpoint: str) -> float:
        """The agent's phone refused a ring (busy, unavailable): leave it alone for a while.

        Every caller waiting shares this board, so a busy phone is rung again only when its
        back-off (2 s, doubling to 30 s) passes or Asterisk reports a change of its state, not
        once per waiting caller and per loop. Returns the back-off in seconds.
        """
        agent = self._agents[endpoint]
        pause = min(BUSY_BACKOFF * float(2**agent.refusals), BUSY_BACKOFF_MAX)
        agent.refusals = min(agent.refusals + 1, 16)
        agent.view = replace(agent.view, state=AgentState.BUSY, busy_until=self._clock() + pause)
        self._wake(endpoint)
        return pause

    def finished(self, endpoint: str, wrap_up: float) -> None:
        """End the agent's call: wrap-up for WRAP_UP seconds, then free again."""
        now = self._clock()
        agent = self._agents[endpoint]
        state = AgentState.WRAP_UP if wrap_up > 0 else AgentState.IDLE
        agent.view = replace(
            agent.view, state=state, idle_since=now + wrap_up, wrap_up_until=now + wrap_up
        )
        self._wake(endpoint)

    def pause(self, endpoint: str, paused: bool, reason: str | None = None) -> None:
        """Take the agent out of (or back into) rotation, saying why (break, training ...)."""
        agent = self._agents[endpoint]
        agent.paused, agent.reason = paused, reason if paused else None
        self._wake(endpoint)

    def reason(self, endpoint: str) -> str | None:
        """Return why the agent is paused (None when not paused or no reason was given)."""
        return self._agents[endpoint].reason

    def in_wrap_up(self, endpoint: str) -> bool:
        """Tell whether the agent is in after-call work now (the wrap-up time not yet over)."""
        view = self._agents[endpoint].view
        return view.state is AgentState.WRAP_UP and self._clock() < view.wrap_up_until

    def ready(self, endpoint: str) -> None:
        """End the agent's after-call work before the department's wrap-up time is up."""
        agent = self._agents[endpoint]
        if agent.view.state is AgentState.WRAP_UP:
            now = self._clock()
            agent.view = replace(
                agent.view, state=AgentState.IDLE, idle_since=now, wrap_up_until=now
            )
            self._wake(endpoint)

    def set_online(self, endpoint: str, online: bool) -> None:
        """Record Asterisk's view of the agent's phone (registered or not)."""
        agent = self._agents.get(endpoint)
        if agent is None:
            return
        if agent.online != online and agent.view.state is AgentState.BUSY:
            agent.view = replace(agent.view, state=AgentState.IDLE, busy_until=0.0)  # changed
            agent.refusals = 0
        agent.online, agent.known = online, True
        self._wake(endpoint)

    def notify(self) -> None:
        """Wake the waiters: something they wait on changed (a queue moved)."""
        self._wake()

    def snapshot(self) -> list[AgentView]:
        """Return every agent's view, for status pages and metrics."""
        return [self.view(endpoint) for endpoint in self._agents]

    def since(self, endpoint: str) -> float:
        """Return when (monotonic) the agent's state as `view` gives it last changed."""
        return self._agents[endpoint].since

    def next_wake(self) -> float | None:
        """Return the monotonic time the next wrap-up or busy back-off ends, if any.

        Kept until the board next changes: every waiter asks after each change, and the
        answer only changes with a change (a look at every agent each time was the board's
        largest cost per call with 400 agents).
        """
        if self._next_wake is _UNKNOWN:
            ends = [_until(agent.view) for agent in self._agents.values()]
            found = [end for end in ends if end > 0]
            self._next_wake = min(found) if found else None
        return self._next_wake  # type: ignore[return-value]

    async def wait_change(self, max_wait: float) -> None:
        """Wait until the board changes (or a wrap-up ends), at most MAX_WAIT seconds."""
        max_wait = self._until_wake(max_wait, self.next_wake())
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout=max_wait)
        except TimeoutError:
            return

    async def wait_change_of(self, endpoint: str, max_wait: float) -> None:
        """Wait until ENDPOINT's state changes (or its wrap-up or busy back-off ends), at most
        MAX_WAIT seconds; other agents' changes do not wake it.

        An agent's workspace follows that agent alone: with every workspace waiting on the whole
        board, each change anywhere woke all of them (200 streams for one agent ringing).
        """
        agent = self._agents.get(endpoint)
        if agent is None:
            await self.wait_change(max_wait)
            return
        ends = _until(agent.view)
        max_wait = self._until_wake(max_wait, ends if ends > 0 else None)
        if agent.waiting is None:
            agent.waiting, agent.waited_on = asyncio.Event(), self._seen(endpoint)
        try:
            await asyncio.wait_for(agent.waiting.wait(), timeout=max_wait)
        except TimeoutError:
            return

    def _until_wake(self, max_wait: float, wake: float | None) -> float:
        """Return MAX_WAIT cut to end at WAKE (monotonic), when a wrap-up or back-off ends."""
        return max_wait if wake is None else min(max_wait, max(wake - self._clock(), 0.0))

    def _seen(self, endpoint: str) -> tuple[object, ...]:
        agent = self._agents[endpoint]
        return (self.view(endpoint), agent.paused, agent.reason, agent.online, agent.known)

    def _set(self, endpoint: str, state: AgentState) -> None:
        agent = self._agents[endpoint]
        agent.view = replace(agent.view, state=state)
        self._wake(endpoint)

    def _wake(self, endpoint: str | None = None) -> None:
        """Bring ENDPOINT's shown state, observers and followers up to date (it changed), then
        wake every waiter; None: only wake them (a queue moved).

        Only a change of an agent changes what its view, its observers' and its followers'
        figures are: time alone does not (a wrap-up that ran out still shows as wrap-up until
        `free` asks), so the other agents need no look. With 400 agents, a look at every one
        on every change was most of the board's CPU per call.
        """
        if endpoint is not None:
            now = self._clock()
            agent = self._agents[endpoint]
            view = self.view(endpoint)
            if view.state is not agent.shown:
                agent.shown, agent.since = view.state, now
            if self._observers:
                self._tell(agent, view, now)
            if agent.waiting is not None and self._seen(endpoint) != agent.waited_on:
                agent.waiting.set()  # this agent's followers; the next one waits afresh
                agent.waiting = None
        self._next_wake = _UNKNOWN
        # Wake every waiter once, then start a fresh event for the next change.
        self._changed.set()
        self._changed = asyncio.Event()

    def _tell(self, agent: _Agent, view: AgentView, now: float) -> None:
        """Hand the observers the agent's VIEW if it changed since they last heard of it."""
        online = agent.online and agent.known
        told = (view.state, agent.reason, online)
        if told == agent.told or not self._observers:
            return
        agent.told = told
        left = max(view.wrap_up_until - now, 0.0) if view.state is AgentState.WRAP_UP else 0.0
        change = Change(view.endpoint, view.name, view.state, agent.reason, online, left)
        for observer in self._observers:
            observer(change)


def _until(view: AgentView) -> float:
    """Return when VIEW's wrap-up or busy back-off ends (0 for neither)."""
    if view.state is AgentState.WRAP_UP:
        return view.wrap_up_until
    if view.state is AgentState.BUSY:
        return view.busy_until
    return 0.0
