"""Wrap-up: the disposition an agent picked for a call, and the callbacks promised at wrap-up.

See zentrale.customers.models (`CallWrapUp`, `Callback`) and docs/agents.md. Notes and
suggestions stay in `call_notes`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
NAME = sa.String(128)
NUMBER = sa.String(32)


def _time(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _call(source: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["call_id"], ["calls.id"], name=f"fk_{source}_call_id_calls", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create call_wrapups and callbacks."""
    op.create_table(
        "call_wrapups",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_endpoint", NAME, nullable=False),
        sa.Column("author_id", ID),
        sa.Column("department", NAME),
        sa.Column("disposition", NAME),
        _time("created_at"),
        _call("call_wrapups"),
        sa.PrimaryKeyConstraint("call_id", name="pk_call_wrapups"),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", ID, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("number", NUMBER, nullable=False),
        sa.Column("department", NAME),
        sa.Column("agent_endpoint", NAME, nullable=False),
        sa.Column("author_id", ID),
        _time("due_at"),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("placed_call_id", sa.String(64)),
        sa.Column("result", sa.String(32)),
        _time("created_at"),
        _time("updated_at"),
        _call("callbacks"),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index("ix_callbacks_state_due_at", "callbacks", ["state", "due_at"])
    op.create_index("ix_callbacks_agent_endpoint_state", "callbacks", ["agent_endpoint", "state"])
    op.create_index("ix_callbacks_call_id", "callbacks", ["call_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("callbacks")
    op.drop_table("call_wrapups")
