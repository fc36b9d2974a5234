"""The agent state log's table: one row per stretch of time an agent spent in one state.

Written by `zentrale.telephony.agent_log.AgentLog` (through the call journal) whenever the
agent board changes; read by the agent figures (`zentrale.stats.agent_figures`). An agent
with no open row is signed out (phone not registered); see docs/statistics.md.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.base import NAME, Base, _label


class LogState(enum.StrEnum):
    """What the log records: the board's states, folded (offline is no row at all)."""

    AVAILABLE = "available"
    """Signed in and free (or the phone refused the last ring: still signed in)."""
    RINGING = "ringing"
    ON_CALL = "on_call"
    AFTER_CALL_WORK = "after_call_work"
    PAUSED = "paused"


class AgentStateRow(Base):
    """One interval of one agent's state on one node; `ended_at` is NULL while it lasts."""

    __tablename__ = "agent_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(NAME)
    agent_name: Mapped[str | None] = mapped_column(NAME)
    node: Mapped[str] = mapped_column(String(64))
    state: Mapped[LogState] = mapped_column(_label(LogState))
    reason: Mapped[str | None] = mapped_column(NAME)
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_agent_states_endpoint_started_at", "endpoint", "started_at"),
        Index("ix_agent_states_started_at", "started_at"),
        Index("ix_agent_states_node_open", "node", "ended_at"),
    )
