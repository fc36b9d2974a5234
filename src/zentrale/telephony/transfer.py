"""Transfers an agent asks for on a connected call: blind, or attended (consult, then complete
or go back to the caller).

The call's flow (`telephony.inbound`) carries transfers out on the channels; this module holds
what can be decided without them: where a transfer goes (`resolve`: a department of the rules
and its free agents, or one named agent), the state of an attended transfer and which request
it allows (`TransferState`), whether the second agent's conversation is recorded and the
consent notice played again (`notice_first`), and the requests the API puts in the call's
queue. `ring_consult` rings the consulted party, the one piece of I/O here.

An attended transfer goes TALKING → RINGING (the caller on hold with music, the consulted
party rung) → CONSULTING (the agent talks to the consulted party) → completed (the caller
talks to the consulted party, the first agent leaves) or back to TALKING (cancelled, refused,
not answered, or the consulted party hung up; `last` says which).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from zentrale.base.errors import ConflictError, NotFoundError
from zentrale.routing.schema import Department, RoutingDocument
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.ringing import Leg, RingResult


class NotOnCallError(ConflictError):
    """The agent has no call connected here to transfer."""

    code = "agent-not-on-call"


class TransferStateError(ConflictError):
    """The request does not fit the transfer's state (complete without a consultation ...)."""

    code = "transfer-wrong-state"


class TransferTargetError(NotFoundError):
    """No department or agent of that name in the call's rules."""

    code = "transfer-target-unknown"


class Phase(enum.StrEnum):
    """Where an attended transfer stands."""

    TALKING = "talking"
    """With the caller; no consultation."""
    RINGING = "ringing"
    """The caller on hold, the consulted party rung."""
    CONSULTING = "consulting"
    """The caller on hold, the agent talking to the consulted party."""


@dataclass(frozen=True)
class Target:
    """Where a transfer goes: a department (any of its free agents) or one agent."""

    kind: str
    """`department` or `agent`."""
    name: str
    """The department's name, or the agent's endpoint."""
    department: str
    """The department whose rules apply (a named agent's first department)."""
    config: Department
    endpoints: tuple[str, ...]
    """Whom to ring for a consultation, in order (never the agent asking)."""

    @property
    def label(self) -> str:
        """Return the target as the timeline names it: `department:sales`, `agent:PJSIP/8002`."""
        return f"{self.kind}:{self.name}"


def resolve(rules: RoutingDocument, kind: str, name: str, asking: str | None) -> Target:
    """Return the TARGET of a transfer to a department or agent NAME of RULES.

    ASKING (the transferring agent's endpoint) is never rung; a transfer to oneself is refused.
    """
    if kind == "department":
        config = rules.departments.get(name)
        if config is None:
            known = ", ".join(sorted(rules.departments)) or "none"
            raise TransferTargetError(f"no department {name!r} in the rules (known: {known})")
        endpoints = tuple(a.endpoint for a in config.agents if a.endpoint != asking)
        return Target(kind, name, name, config, endpoints)
    if kind == "agent":
        if name == asking:
            raise TransferTargetError(f"{name} is the agent transferring; name another agent")
        for department, config in rules.departments.items():
            if any(agent.endpoint == name for agent in config.agents):
                return Target(kind, name, department, config, (name,))
        raise TransferTargetError(f"no agent {name!r} in any department of the rules")
    raise TransferTargetError(f"a transfer goes to a department or an agent, not {kind!r}")


@dataclass(frozen=True)
class TransferState:
    """An attended transfer's state on one call, as the API and the flow see it."""

    phase: Phase = Phase.TALKING
    target: str | None = None
    """The consulted department or agent (`department:sales`)."""
    consulted: str | None = None
    """The endpoint of the party who answered the consultation."""
    last: str | None = None
    """How the last consultation ended: completed, cancelled, no_answer, busy, hung_up ..."""

    def check(self, request: Request) -> None:
        """Raise TransferStateError unless REQUEST fits this state."""
        allowed = {
            "blind": (Phase.TALKING,),
            "consult": (Phase.TALKING,),
            "complete": (Phase.CONSULTING,),
            "cancel": (Phase.RINGING, Phase.CONSULTING),
        }[request.action]
        if self.phase not in allowed:
            raise TransferStateError(
                f"cannot {request.action} while {self.phase.value}"
                + (" (consult first)" if request.action == "complete" else "")
            )

    def consulting(self, target: str) -> TransferState:
        """Return the state once the consulted party rings."""
        return TransferState(Phase.RINGING, target)

    def answered(self, endpoint: str) -> TransferState:
        """Return the state once the consulted party answered."""
        return replace(self, phase=Phase.CONSULTING, consulted=endpoint)

    def back(self, why: str) -> TransferState:
        """Return the state with the agent back with the caller, saying WHY."""
        return TransferState(last=why)

    def as_json(self) -> dict[str, str | None]:
        """Return the state for the API."""
        return {
            "phase": self.phase.value,
            "target": self.target,
            "consulted": self.consulted,
            "last": self.last,
        }


class TransferNews:
    """Wakes whoever follows transfer states (the agents' workspace streams) when a call's
    attended transfer moves: the consultation rings, is answered, completed or ends."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def moved(self) -> None:
        """Say that some call's transfer state changed."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, max_wait: float) -> None:
        """Wait until a transfer state changes, at most MAX_WAIT seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max_wait)
        except TimeoutError:
            return


@dataclass(frozen=True)
class Request:
    """What the agent asks of the call: `blind`, `consult`, `complete` or `cancel`."""

    action: str
    target: Target | None = None
    by: str | None = None
    """The endpoint of the agent asking (for the timeline)."""


def ring_outcome(leg: Leg | None) -> str:
    """Return how ringing the consulted party ended, in the timeline's words."""
    if leg is None:
        return "no_agent"  # nobody of the department was free
    return str(leg.result)


def notice_first(target_records: bool, consent_played: bool, replay: bool) -> bool:
    """Tell whether the caller hears the consent notice before an attended transfer hands
    them to the consulted agent.

    As for a blind transfer into a department: the target department's rules decide on
    recording; a recorded conversation is announced if the caller never heard the notice, or
    again when the rules replay it on a transfer (`announcements.replay_on_transfer`). The
    conversation is then recorded unless the notice could not be played.
    """
    return target_records and (not consent_played or replay)


Ringer = Callable[[str], Awaitable[Leg]]


async def ring_consult(board: AgentBoard, target: Target, ring_one: Ringer) -> Leg | None:
    """Ring the target's free agents one after another until one answers.

    Each is reserved on the board while it rings (so no queue rings it meanwhile) and put back
    when it does not answer. Returns the answered leg (the agent then still reserved), the last
    unanswered one, or None when nobody was free.
    """
    last: Leg | None = None
    for endpoint in target.endpoints:
        if not board.reserve(endpoint):
            continue
        try:
            leg = await ring_one(endpoint)
        except BaseException:
            board.release(endpoint)
            raise
        if leg.result is RingResult.ANSWERED:
            return leg
        if leg.result in (RingResult.BUSY, RingResult.UNAVAILABLE):
            board.refused(endpoint)
        else:
            board.release(endpoint)
        last = leg
    return last
