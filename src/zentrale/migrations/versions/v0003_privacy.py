"""Data protection: legal holds, destruction records and data-subject requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Models: `zentrale.privacy.models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
LABEL = sa.String(32)
NAME = sa.String(128)


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the legal holds, destruction records and subject requests."""
    op.create_table(
        "legal_holds",
        sa.Column("id", ID, nullable=False),
        sa.Column("scope", LABEL, nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        _time("created_at", nullable=False),
        _time("released_at"),
        sa.Column("released_by", NAME),
        sa.Column("release_reason", sa.String(500)),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_scope_value", "legal_holds", ["scope", "value"])
    op.create_table(
        "destruction_records",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("reason", LABEL, nullable=False),
        sa.Column("recording_id", ID),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("object_key", sa.String(512)),
        sa.Column("storage_backend", LABEL),
        sa.Column("sha256_plain", sa.String(64)),
        sa.Column("sha256_cipher", sa.String(64)),
        sa.Column("rule", NAME),
        sa.Column("request_id", ID),
        sa.Column("actor", NAME, nullable=False),
        _time("destroyed_at", nullable=False),
        _time("keep_until", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_destruction_records"),
    )
    op.create_index("ix_destruction_records_destroyed_at", "destruction_records", ["destroyed_at"])
    op.create_index("ix_destruction_records_recording_id", "destruction_records", ["recording_id"])
    op.create_table(
        "subject_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor", NAME, nullable=False),
        _time("created_at", nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subject_requests"),
    )
    op.create_index("ix_subject_requests_created_at", "subject_requests", ["created_at"])


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in ("subject_requests", "destruction_records", "legal_holds"):
        op.drop_table(table)
