"""Customer history: calls by the number called (outbound calls to a customer).

Inbound calls are found by `ix_calls_caller_number_arrived_at`; this is the same for the
outbound side, so a customer's history is two index scans, not a scan of every call. See
zentrale.customers.models.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the index."""
    op.create_index("ix_calls_called_number_arrived_at", "calls", ["called_number", "arrived_at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_calls_called_number_arrived_at", table_name="calls")
