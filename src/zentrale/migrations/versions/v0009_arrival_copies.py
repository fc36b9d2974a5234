"""Arrival copies: the call's `arrived_at` on `survey_answers` and `call_notes`.

The statistics report groups survey answers and suggestions by the period in which their call
arrived; with a copy of that time on the row it finds a month's answers and suggestions on an
index of their own instead of looking up each row's call. `AnswerStore.record`, `add_note`
and `zentrale.stats.history` fill the copy when they write a row; this migration adds the
columns, fills them for the rows already written and adds the indexes (see
zentrale.stats.indexes and docs/statistics.md). A row without a copy (written by other code)
is still counted: the report looks its call up, through the small partial indexes below.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWER_COLUMNS = ["answered_at", "department", "agent_endpoint", "scale", "status", "answer"]
SUGGESTION_COLUMNS = ["created_at", "department", "call_id"]
SUGGESTION_WHERE = "kind = 'suggestion'"
UNCOPIED = "call_arrived_at IS NULL"


def upgrade() -> None:
    """Add the columns, fill them from the calls, create the indexes."""
    for table in ("survey_answers", "call_notes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("call_arrived_at", sa.DateTime(timezone=True)))
        op.execute(
            f"UPDATE {table} SET call_arrived_at ="  # noqa: S608 - constant names only
            f" (SELECT calls.arrived_at FROM calls WHERE calls.id = {table}.call_id)"
        )
    op.create_index(
        "ix_survey_answers_call_arrived_at",
        "survey_answers",
        ["call_arrived_at"],
        postgresql_include=ANSWER_COLUMNS,
    )
    op.create_index(
        "ix_survey_answers_uncopied",
        "survey_answers",
        ["answered_at"],
        postgresql_where=sa.text(UNCOPIED),
        sqlite_where=sa.text(UNCOPIED),
    )
    op.create_index(
        "ix_call_notes_suggestions_arrived_at",
        "call_notes",
        ["call_arrived_at"],
        postgresql_include=SUGGESTION_COLUMNS,
        postgresql_where=sa.text(SUGGESTION_WHERE),
        sqlite_where=sa.text(SUGGESTION_WHERE),
    )
    op.create_index(
        "ix_call_notes_uncopied",
        "call_notes",
        ["created_at"],
        postgresql_where=sa.text(UNCOPIED),
        sqlite_where=sa.text(UNCOPIED),
    )


def downgrade() -> None:
    """Drop the indexes and the columns."""
    op.drop_index("ix_call_notes_uncopied", table_name="call_notes")
    op.drop_index("ix_call_notes_suggestions_arrived_at", table_name="call_notes")
    op.drop_index("ix_survey_answers_uncopied", table_name="survey_answers")
    op.drop_index("ix_survey_answers_call_arrived_at", table_name="survey_answers")
    for table in ("call_notes", "survey_answers"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("call_arrived_at")
