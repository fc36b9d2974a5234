"""The signed-in user of a request, and what part of the recordings they may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from zentrale.core.audit import Actor
from zentrale.core.models import Role, User


class Scoped(Protocol):
    """Anything that belongs to a department and maybe an agent (a recording, a call)."""

    @property
    def department(self) -> str | None:
        """The department it belongs to, if any."""
        ...

    @property
    def agent_endpoint(self) -> str | None:
        """The agent's endpoint it belongs to, if any."""
        ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, how they proved it, and from where."""

    user_id: str
    username: str
    display_name: str
    role: Role
    departments: Sequence[str]
    agent_endpoint: str | None
    via: Literal["token", "session"]
    address: str | None
    csrf_token: str | None = None

    @classmethod
    def of(
        cls,
        user: User,
        via: Literal["token", "session"],
        address: str | None,
        csrf_token: str | None = None,
    ) -> Principal:
        """Build the principal of USER."""
        return cls(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            departments=tuple(user.departments),
            agent_endpoint=user.agent_endpoint,
            via=via,
            address=address,
            csrf_token=csrf_token,
        )

    @property
    def actor(self) -> Actor:
        """Return the audit log's view of this user."""
        return Actor(self.user_id, self.username, self.address)

    def can_see(self, recording: Scoped) -> bool:
        """Tell whether the recording is in this user's scope."""
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.AGENT:
            return (
                self.agent_endpoint is not None and recording.agent_endpoint == self.agent_endpoint
            )
        return recording.department is not None and recording.department in self.departments
