"""Agents' phones as Asterisk sees them: registered (online) or not, kept on the agent board.

At every (re)connect the app subscribes to the endpoint technologies the rules use (PJSIP, ...)
and reads their states; afterwards EndpointStateChange events keep the board current. An agent
whose phone is offline is not rung. Local channels (the sandbox's simulated agents) are not
endpoints and are always taken as online.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import structlog

from zentrale.telephony.ari import AriClient, AriError
from zentrale.telephony.ari.events import EndpointStateChange
from zentrale.telephony.ari.models import Endpoint
from zentrale.telephony.board import AgentBoard

log = structlog.get_logger(__name__)

# Endpoint states in which a phone can take a call.
ONLINE_STATES = frozenset({"online", "unknown"})


def technologies(endpoints: Iterable[str]) -> set[str]:
    """Return the endpoint technologies among agent ENDPOINTS ("PJSIP/1001" -> "PJSIP")."""
    return {
        endpoint.split("/", 1)[0]
        for endpoint in endpoints
        if "/" in endpoint and not endpoint.startswith("Local/")
    }


def name_of(endpoint: Endpoint) -> str:
    """Return the endpoint as the rules write it: TECH/resource."""
    return f"{endpoint.technology}/{endpoint.resource}"


class Presence:
    """Keeps the board's online flags in step with Asterisk."""

    def __init__(self, ari: AriClient, board: AgentBoard) -> None:
        self.ari = ari
        self.board = board
        ari.on(EndpointStateChange, self._changed)

    async def refresh(self, agent_endpoints: Iterable[str]) -> None:
        """Subscribe to the agents' technologies and read every endpoint's state."""
        wanted = list(agent_endpoints)
        for tech in sorted(technologies(wanted)):
            with contextlib.suppress(AriError):
                await self.ari.applications.subscribe(self.ari.app, f"endpoint:{tech}")
        known = {name_of(endpoint): endpoint for endpoint in await self.ari.endpoints.list()}
        for agent in wanted:
            if agent.startswith("Local/"):
                continue
            found = known.get(agent)
            online = found is not None and (found.state or "unknown") in ONLINE_STATES
            self.board.set_online(agent, online)
            if not online:
                log.info("agent.offline", agent=agent, state=found.state if found else "missing")

    async def _changed(self, event: EndpointStateChange) -> None:
        state = event.endpoint.state or "unknown"
        self.board.set_online(name_of(event.endpoint), state in ONLINE_STATES)
        log.info("agent.presence", agent=name_of(event.endpoint), state=state)
