"""Second factor: TOTP secret, confirmation time, last step used and recovery codes on users.

See zentrale.core.totp and docs/security.md. All columns are nullable: a user without them
signs in with the password alone (unless `api.require_second_factor` asks for more).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the second factor's columns to users."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("recovery_codes", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("users") as batch:
        for name in ("recovery_codes", "totp_last_step", "totp_confirmed_at", "totp_secret"):
            batch.drop_column(name)
