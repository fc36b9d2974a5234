"""The customer's e-mail address: a nullable column, normalised by the store.

See zentrale.customers.emails (the check and normal form) and docs/customers.md. No index:
the search compares a whole address, rarely, and the table is small beside the calls.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add customers.email."""
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))


def downgrade() -> None:
    """Drop customers.email."""
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("email")
