"""Callback leases: which daemon is placing a callback, and until when its claim holds.

See zentrale.customers.wrapup (`claim`, `extend`, `recover`) and docs/agents.md. A daemon that
stops mid-attempt leaves its lease to run out; any daemon then puts the callback back to
`scheduled`. Both columns are nullable: a callback not being placed has neither, and one left
`calling` before this revision counts as expired.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the lease's columns to callbacks."""
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("locked_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("callbacks") as batch:
        for name in ("locked_until", "locked_by"):
            batch.drop_column(name)
