"""The agent state log: one row per stretch of time an agent spent in one state.

See zentrale.calls.agent_states (`AgentStateRow`), zentrale.telephony.agent_log (the writer)
and docs/statistics.md (the agent figures read from it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(128)


def upgrade() -> None:
    """Create agent_states and its indexes."""
    op.create_table(
        "agent_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint", NAME, nullable=False),
        sa.Column("agent_name", NAME),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", NAME),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_agent_states"),
    )
    op.create_index(
        "ix_agent_states_endpoint_started_at", "agent_states", ["endpoint", "started_at"]
    )
    op.create_index("ix_agent_states_started_at", "agent_states", ["started_at"])
    op.create_index("ix_agent_states_node_open", "agent_states", ["node", "ended_at"])


def downgrade() -> None:
    """Drop agent_states."""
    op.drop_table("agent_states")
