"""Supervisors on an agent's call: listen, whisper (coach) and barge, over ARI snoop channels.

A session rings the supervisor's own phone (their endpoint: a SIP phone or a browser
softphone) and, once answered, puts it in a bridge of its own (`monitor-<id>`) with a snoop
channel on the AGENT's leg of the call. The snoop spies on both directions of that leg (what the
agent says and what the agent hears, i.e. the customer), so the supervisor always hears both.
What the supervisor says is written into the snoop and whispered into the agent's leg:

- listen: whisper `none`, nobody hears the supervisor;
- whisper: whisper `out`, into what the agent hears only; the customer hears nothing;
- barge: whisper `both`, into what the agent hears and into what the agent's leg sends to the
  conversation, so the customer hears the supervisor too.

The conversation's bridge is never touched. A mode switch puts a new snoop with the new
direction into the monitor bridge, then hangs up the old one. Recording follows from the
directions: a mixed (bridge) recording hears what the agent's leg sends into the conversation,
so it holds the supervisor in barge only; two-party recordings spy on each party before any
whisper, so they never hold the supervisor. A session ends when the supervisor stops it or
hangs up, or when the agent's leg goes (the call or the conversation ends); then its snoop,
the supervisor's leg and the bridge are removed. Which modes a role may use and for which
departments is decided by the pure functions here; the HTTP edge applies them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from zentrale.base.errors import ConflictError, NotFoundError
from zentrale.telephony.ari import AriClient, AriError
from zentrale.telephony.ari.events import CHANNEL_GONE_TYPES, StasisStart
from zentrale.telephony.ari.primitives import channel_key
from zentrale.telephony.ringing import RingResult, ring

log = structlog.get_logger(__name__)

MONITOR_ARGS = "monitor"
"""Stasis argument of the supervisor's leg: the call centre leaves it to its session."""
SNOOP_ARGS = "snoop"
SNOOP_START_SECONDS = 5.0


class Mode(enum.StrEnum):
    """How the supervisor takes part in the agent's call."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


_WHISPER = {Mode.LISTEN: "none", Mode.WHISPER: "out", Mode.BARGE: "both"}


def directions(mode: Mode) -> tuple[str, str]:
    """Return the snoop's (spy, whisper) directions on the agent's leg for MODE."""
    return "both", _WHISPER[mode]


def in_recording(mode: Mode) -> bool:
    """Tell whether the supervisor's voice reaches a mixed recording of the call in MODE."""
    return mode is Mode.BARGE


def in_scope(departments: Sequence[str] | None, department: str | None) -> bool:
    """Tell whether a call of DEPARTMENT is within DEPARTMENTS (None: every department)."""
    if departments is None:
        return True
    return department is not None and department in departments


class MonitorError(ConflictError):
    """A monitor session could not start or change (the call ended, the phone did not answer)."""

    code = "monitor-failed"


class MonitorNotFoundError(NotFoundError):
    """No monitor session with that id runs here."""

    code = "monitor-not-found"


@dataclass(frozen=True)
class Target:
    """The call to monitor: its id, the agent's leg and endpoint, its department."""

    call_id: str
    agent_channel: str
    agent_endpoint: str
    department: str | None


@dataclass
class Session:
    """One supervisor on one agent's call."""

    id: str
    target: Target
    supervisor: str
    """The supervisor's user name (for the page and the log)."""
    endpoint: str
    """The supervisor's phone."""
    mode: Mode
    bridge_id: str
    user_id: str | None = None
    phone_channel: str | None = None
    snoop_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    snoops: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None

    def as_json(self) -> dict[str, object]:
        """Return the session as the API and the supervisors' page show it."""
        return {
            "id": self.id,
            "call_id": self.target.call_id,
            "agent": self.target.agent_endpoint,
            "department": self.target.department,
            "supervisor": self.supervisor,
            "mode": str(self.mode),
            "seconds": int(time.monotonic() - self.started),
        }


Ended = Callable[[Session], Awaitable[None]]


class Monitors:
    """The monitor sessions of this node."""

    def __init__(self, ari: AriClient, *, ring_seconds: float = 30.0) -> None:
        self.ari = ari
        self.ring_seconds = ring_seconds
        self.sessions: dict[str, Session] = {}
        self._ended: list[Ended] = []

    def on_end(self, hook: Ended) -> None:
        """Call HOOK with every session that ends (stopped, hung up, or the call ended)."""
        self._ended.append(hook)

    def of_calls(self, call_ids: Iterable[str]) -> list[Session]:
        """Return the sessions on the calls CALL_IDS."""
        wanted = set(call_ids)
        return [s for s in self.sessions.values() if s.target.call_id in wanted]

    def get(self, session_id: str) -> Session:
        """Return the running session SESSION_ID."""
        try:
            return self.sessions[session_id]
        except KeyError:
            raise MonitorNotFoundError(f"no monitor session {session_id} runs here") from None

    async def start(
        self,
        target: Target,
        mode: Mode,
        *,
        supervisor: str,
        endpoint: str,
        user_id: str | None = None,
    ) -> Session:
        """Ring the supervisor's ENDPOINT and, once answered, join them to TARGET in MODE."""
        sid = uuid.uuid4().hex[:16]
        session = Session(sid, target, supervisor, endpoint, mode, bridge_id=f"monitor-{sid}")
        session.user_id = user_id
        await self.ari.bridges.create(session.bridge_id, kind="mixing")
        try:
            await self._join(session)
        except BaseException:
            await self._tear_down(session)
            raise
        self.sessions[sid] = session
        self.ari.spawn(self._follow(session), f"monitor:{sid}")
        log.info("monitor.started", session=sid, call_id=target.call_id, mode=str(mode))
        return session

    async def _join(self, session: Session) -> None:
        leg = await ring(
            self.ari,
            session.endpoint,
            app_args=MONITOR_ARGS,
            caller_id=f"{session.mode} <{session.target.agent_endpoint.rsplit('/', 1)[-1]}>",
            ring_seconds=self.ring_seconds,
            prefix=f"monitor-{session.id}",
        )
        if leg.result is not RingResult.ANSWERED:
            raise MonitorError(f"the supervisor's phone {session.endpoint} did not answer")
        session.phone_channel = leg.channel_id
        await self._add(session.bridge_id, leg.channel_id)
        await self._snoop(session)

    async def _snoop(self, session: Session) -> None:
        """Put a snoop in SESSION's mode into its bridge, then hang up the one before."""
        session.snoops += 1
        snoop_id = f"monitor-{session.id}-snoop{session.snoops}"
        spy, whisper = directions(session.mode)
        ready = self.ari.subscribe(f"channel:{snoop_id}", lambda e: isinstance(e, StasisStart))
        with ready:
            try:
                await self.ari.channels.snoop(
                    session.target.agent_channel,
                    self.ari.app,
                    spy=spy,
                    whisper=whisper,
                    snoop_id=snoop_id,
                    app_args=SNOOP_ARGS,
                )
            except AriError as exc:
                call = session.target.call_id
                raise MonitorError(f"call {call} has no agent leg: {exc}") from None
            await ready.get(SNOOP_START_SECONDS)
        await self._add(session.bridge_id, snoop_id)
        old, session.snoop_id = session.snoop_id, snoop_id
        if old is not None:
            with contextlib.suppress(AriError):
                await self.ari.channels.hangup(old)

    async def _add(self, bridge_id: str, channel_id: str) -> None:
        try:
            await self.ari.bridges.add_channel(bridge_id, channel_id)
        except AriError as exc:
            raise MonitorError(f"could not join {channel_id}: {exc}") from None

    async def switch(self, session_id: str, mode: Mode) -> Session:
        """Change a running session to MODE (a new snoop replaces the old one)."""
        session = self.get(session_id)
        if session.mode is not mode:
            previous, session.mode = session.mode, mode
            try:
                await self._snoop(session)
            except BaseException:
                session.mode = previous
                raise
            log.info("monitor.switched", session=session_id, mode=str(mode))
        return session

    async def stop(self, session_id: str) -> Session:
        """End a running session; return it once everything of it is gone."""
        session = self.get(session_id)
        session.end_reason = session.end_reason or "stopped"
        session.stop_requested.set()
        await session.ended.wait()
        return session

    async def close(self) -> None:
        """End every session (the daemon stops)."""
        for session_id in list(self.sessions):
            with contextlib.suppress(MonitorNotFoundError):
                await self.stop(session_id)

    async def _follow(self, session: Session) -> None:
        assert session.phone_channel is not None
        waits = {
            asyncio.create_task(_gone(self.ari, session.target.agent_channel)): "call_ended",
            asyncio.create_task(_gone(self.ari, session.phone_channel)): "supervisor_hung_up",
            asyncio.create_task(session.stop_requested.wait()): "stopped",
        }
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            session.end_reason = session.end_reason or waits[next(iter(done))]
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            await self._tear_down(session)
            self.sessions.pop(session.id, None)
            log.info("monitor.ended", session=session.id, reason=session.end_reason)
            try:
                await self._run_hooks(session)  # first: who waits for the end sees it audited
            finally:
                session.ended.set()

    async def _run_hooks(self, session: Session) -> None:
        for hook in self._ended:
            try:
                await hook(session)
            except Exception:
                log.exception("monitor.end_hook_failed", session=session.id)

    async def _tear_down(self, session: Session) -> None:
        for channel_id in (session.snoop_id, session.phone_channel):
            if channel_id is not None:
                with contextlib.suppress(AriError):
                    await self.ari.channels.hangup(channel_id)
        with contextlib.suppress(AriError):
            await self.ari.bridges.destroy(session.bridge_id)


async def _gone(ari: AriClient, channel_id: str) -> None:
    """Return once CHANNEL_ID is gone, also when it went before this was called."""
    gone = ari.subscribe(channel_key(channel_id), lambda e: e.type in CHANNEL_GONE_TYPES)
    with gone, contextlib.suppress(AriError):
        # Subscribed first, then looked up: a hangup in between is in the subscription.
        await ari.channels.get(channel_id)
        await gone.get()
