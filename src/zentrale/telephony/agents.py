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


def ring_waves(
    strategy: Strategy,
    agents: Sequence[AgentView],
    *,
    last_answered: str | None = None,
    rng: random.Random | None = None,
) -> list[list[AgentView]]:
    """Order free AGENTS (in department order) into ring waves for STRATEGY.

    Every strategy has its case: a new one added to `Strategy` without a case here fails the
    type check (`assert_never`) instead of falling through to some other order.
    """
    if not agents:
        return []
    match strategy:
        case "ring_all":
            return [list(agents)]
        case "in_order":
            order = list(agents)
        case "longest_idle":
            order = sorted(agents, key=lambda agent: agent.idle_since)
        case "round_robin":
            order = _after(list(agents), last_answered)
        case "random":
            order = list(agents)
            (rng or random.Random()).shuffle(order)  # noqa: S311 - fairness, not secrecy
        case _:
            assert_never(strategy)
    return [[agent] for agent in order]


def _after(agents: list[AgentView], last: str | None) -> list[AgentView]:
    """Rotate so the agent after the one who answered last comes first."""
    endpoints = [agent.endpoint for agent in agents]
    if last not in endpoints:
        return agents
    start = endpoints.index(last) + 1
    return agents[start:] + agents[:start]
