"""Calls, their timeline, recordings and the recording pipeline's job queue.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Enumerations (direction, outcome, event kind, states, steps) are VARCHAR(32) without a
CHECK constraint, so adding a value later needs no table rebuild on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABEL = sa.String(32)
NAME = sa.String(128)


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create calls, call_events, recordings and recording_jobs with their indexes."""
    _create_calls()
    _create_call_events()
    _create_recordings()
    _create_recording_jobs()


def downgrade() -> None:
    """Drop every table of this revision."""
    for table in ("recording_jobs", "recordings", "call_events", "calls"):
        op.drop_table(table)


def _create_calls() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("direction", LABEL, nullable=False),
        sa.Column("caller_number", sa.String(32)),
        sa.Column("dialled_number", sa.String(32)),
        sa.Column("called_number", sa.String(32)),
        sa.Column("department", NAME),
        sa.Column("agent_endpoint", NAME),
        sa.Column("agent_name", NAME),
        sa.Column("language", sa.String(16)),
        _time("arrived_at", nullable=False),
        _time("answered_by_app_at"),
        _time("queued_at"),
        _time("agent_answered_at"),
        _time("ended_at"),
        sa.Column("outcome", LABEL),
        sa.Column("hangup_cause_code", sa.Integer()),
        sa.Column("hangup_cause_text", NAME),
        sa.Column("consent_version", LABEL),
        sa.Column("consent_language", sa.String(16)),
        sa.Column("asterisk_node", sa.String(64)),
        sa.Column("app_name", sa.String(64)),
        sa.Column("rules_version", sa.String(64)),
        sa.Column("last_event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
    )
    op.create_index("ix_calls_arrived_at", "calls", ["arrived_at"])
    op.create_index("ix_calls_caller_number_arrived_at", "calls", ["caller_number", "arrived_at"])
    op.create_index("ix_calls_department_arrived_at", "calls", ["department", "arrived_at"])


def _create_call_events() -> None:
    op.create_table(
        "call_events",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _time("at", nullable=False),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name="fk_call_events_call_id_calls", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("call_id", "seq", name="pk_call_events"),
    )


def _create_recordings() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("asterisk_name", sa.String(255), nullable=False),
        sa.Column("state", LABEL, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("duration_s", sa.Float()),
        sa.Column("plaintext_size", sa.BigInteger()),
        sa.Column("object_size", sa.BigInteger()),
        sa.Column("sha256_plain", sa.String(64)),
        sa.Column("sha256_cipher", sa.String(64)),
        sa.Column("storage_backend", LABEL),
        sa.Column("object_key", sa.String(512)),
        sa.Column("wrapped_keys", sa.JSON(), nullable=False),
        sa.Column("encryption_header", sa.JSON()),
        sa.Column("pause_markers", sa.JSON(), nullable=False),
        sa.Column("waveform", sa.LargeBinary()),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("corrupt", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        _time("stored_at"),
        sa.Column("department", NAME),
        sa.Column("agent_endpoint", NAME),
        sa.Column("agent_name", NAME),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name="fk_recordings_call_id_calls", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
        sa.UniqueConstraint("call_id", "asterisk_name", name="uq_recordings_call_id_asterisk_name"),
    )
    op.create_index(
        "ix_recordings_department_created_at", "recordings", ["department", "created_at"]
    )
    op.create_index(
        "ix_recordings_agent_endpoint_created_at", "recordings", ["agent_endpoint", "created_at"]
    )


def _create_recording_jobs() -> None:
    op.create_table(
        "recording_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("recording_id", sa.String(36), nullable=False),
        sa.Column("step", LABEL, nullable=False),
        sa.Column("state", LABEL, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", nullable=False),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("locked_by", sa.String(128)),
        _time("locked_until"),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name="fk_recording_jobs_recording_id_recordings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recording_jobs"),
    )
    op.create_index("ix_recording_jobs_recording_id", "recording_jobs", ["recording_id"])
    op.create_index(
        "ix_recording_jobs_state_next_attempt_at", "recording_jobs", ["state", "next_attempt_at"]
    )
