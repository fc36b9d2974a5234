"""Wrap-ups per agent: after a transfer each agent who answered the call files their own.

See zentrale.customers.wrapup (`save`, `of_call`) and docs/agents.md. The primary key of
`call_wrapups` widens from `call_id` to `(call_id, agent_endpoint)`: the same agent twice is
still refused (409 `wrapup-done`). Batch mode, so SQLite copies the table.

The downgrade narrows the key again; a call with wrap-ups of several agents keeps only the
first one filed (the others' notes stay in `call_notes`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = "pk_call_wrapups"


def upgrade() -> None:
    """Make (call_id, agent_endpoint) the primary key of call_wrapups."""
    with op.batch_alter_table("call_wrapups") as batch:
        batch.drop_constraint(PK, type_="primary")
        batch.create_primary_key(PK, ["call_id", "agent_endpoint"])


def downgrade() -> None:
    """Keep each call's first wrap-up and make call_id the primary key again."""
    op.execute(
        sa.text(
            "DELETE FROM call_wrapups WHERE EXISTS (SELECT 1 FROM call_wrapups AS first"
            " WHERE first.call_id = call_wrapups.call_id AND (first.created_at"
            " < call_wrapups.created_at OR (first.created_at = call_wrapups.created_at"
            " AND first.agent_endpoint < call_wrapups.agent_endpoint)))"
        )
    )
    with op.batch_alter_table("call_wrapups") as batch:
        batch.drop_constraint(PK, type_="primary")
        batch.create_primary_key(PK, ["call_id"])
