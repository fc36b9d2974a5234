"""Campaign causes: the Q.850 cause of each campaign attempt, and on its number the last cause
and the reason an attempt failed on zentrale's side.

See zentrale.telephony.campaigns and docs/operator.md (campaigns through a trunk). All columns
are nullable: attempts made before have none.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the cause columns to campaign_attempts and campaign_targets."""
    with op.batch_alter_table("campaign_attempts") as batch:
        batch.add_column(sa.Column("cause_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cause_text", sa.String(64), nullable=True))
    with op.batch_alter_table("campaign_targets") as batch:
        batch.add_column(sa.Column("last_cause_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_cause_text", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_reason", sa.String(300), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("campaign_targets") as batch:
        for name in ("last_reason", "last_cause_text", "last_cause_code"):
            batch.drop_column(name)
    with op.batch_alter_table("campaign_attempts") as batch:
        for name in ("cause_text", "cause_code"):
            batch.drop_column(name)
