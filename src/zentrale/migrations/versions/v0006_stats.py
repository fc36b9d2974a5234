"""Statistics: indexes to find a period's call events and survey answers.

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


def upgrade() -> None:
    """Create the two indexes."""
    op.create_index("ix_call_events_kind_at", "call_events", ["kind", "at", "call_id"])
    op.create_index("ix_survey_answers_answered_at", "survey_answers", ["answered_at", "call_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_survey_answers_answered_at", table_name="survey_answers")
    op.drop_index("ix_call_events_kind_at", table_name="call_events")
