"""Statistics: covering index of the call columns a report reads, event and answer indexes.

See zentrale.stats.indexes for why each exists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALL_COLUMNS = ["arrived_at", "direction", "department", "agent_endpoint", "queued_at",
                "agent_answered_at", "ended_at", "outcome"]  # fmt: skip


def upgrade() -> None:
    """Create the three indexes."""
    op.create_index("ix_calls_stats", "calls", CALL_COLUMNS)
    op.create_index("ix_call_events_kind_at", "call_events", ["kind", "at", "call_id"])
    op.create_index("ix_survey_answers_answered_at", "survey_answers", ["answered_at", "call_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_survey_answers_answered_at", table_name="survey_answers")
    op.drop_index("ix_call_events_kind_at", table_name="call_events")
    op.drop_index("ix_calls_stats", table_name="calls")
