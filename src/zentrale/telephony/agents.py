"""Who may be rung next: agents' states and the departments' ring strategies, as pure functions.

The board of agents (in `board.py`) keeps the live states; this module only decides, from a
snapshot, which agents are free and in which waves to ring them. A wave is a group rung at the
same time; the next wave is rung when nobody in the previous one answered.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from zentrale.routing.schema import Strategy


class AgentState(enum.StrEnum):
    """What an agent is doing, from zentrale's point of view."""

    IDLE = "idle"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    OFFLINE = "offline"
    BUSY = "busy"
    """The phone refused the last ring (busy, unavailable): not rung until `busy_until`."""


@dataclass(frozen=True)
class AgentView:
    """An agent as the strategies see it."""

    endpoint: str
    name: str
    state: AgentState
    idle_since: float
    """Monotonic time the agent last became free (0 for never called)."""
    wrap_up_until: float = 0.0
    busy_until: float = 0.0
    """Monotonic time a busy agent may be rung again (its back-off)."""


def is_free(agent: AgentView, now: float) -> bool:
    """Tell whether AGENT may be rung at NOW (idle, wrap-up over, or busy back-off over)."""
    if agent.state is AgentState.WRAP_UP:
        return now >= agent.wrap_up_until
    if agent.state is AgentState.BUSY:
        return now >= agent.busy_until
    return agent.state is AgentState.IDLE


def first_wave(
    strategy: Strategy,
    agents: Sequence[AgentView],
    *,
    last_answered: str | None = None,
    rng: random.Random | None = None,
) -> list[AgentView]:
    """Return the wave of free AGENTS (in department order) a caller rings now for STRATEGY.

    A caller's next wave is the first wave of the agents it has not tried yet, so only the
    first is made (ordering all of a 400-agent department per ring was the bulk of the cost).
    Every strategy has its case: a new one added to `Strategy` without a case here fails the
    type check (`assert_never`) instead of falling through to some other order.
    """
    if not agents:
        return []
    match strategy:
        case "ring_all":
            return list(agents)
        case "in_order":
            return [agents[0]]
        case "longest_idle":
            return [min(agents, key=lambda agent: agent.idle_since)]  # sorted's first: stable
        case "round_robin":
            return [_after_first(agents, last_answered)]
        case "random":
            return [(rng or random.Random()).choice(agents)]  # noqa: S311 - fairness, not secrecy
        case _:
            assert_never(strategy)


def _after_first(agents: Sequence[AgentView], last: str | None) -> AgentView:
    """Return the agent after the one who answered last (the first when none of them did)."""
    for index, agent in enumerate(agents):
        if agent.endpoint == last:
            return agents[(index + 1) % len(agents)]
    return agents[0]
