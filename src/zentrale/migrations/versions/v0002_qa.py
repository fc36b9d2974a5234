"""QA service: users, API tokens, sessions, evaluations, comments, tags, audit log, search indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The audit log is append-only: a trigger refuses UPDATE and DELETE on both databases (the hash
chain still detects changes made by someone who drops the trigger). Models:
`zentrale.core.models` and `zentrale.qa.models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
LABEL = sa.String(32)
NAME = sa.String(128)

_SQLITE_GUARDS = (
    "CREATE TRIGGER audit_log_no_{op} BEFORE {OP} ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
)


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, source: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=f"fk_{source}_{column}_{table}", ondelete=ondelete
    )


def upgrade() -> None:
    """Create the QA tables, the audit guard and the search indexes."""
    _create_users()
    _create_tokens_and_sessions()
    _create_reviews()
    _create_audit_log()
    op.create_index("ix_recordings_created_at_id", "recordings", ["created_at", "id"])
    op.create_index("ix_recordings_duration_s_id", "recordings", ["duration_s", "id"])


def downgrade() -> None:
    """Drop everything this revision created."""
    op.drop_index("ix_recordings_duration_s_id", "recordings")
    op.drop_index("ix_recordings_created_at_id", "recordings")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("recording_tags", "comments", "evaluations", "sessions", "api_tokens", "users"):
        op.drop_table(table)


def _create_users() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", NAME, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", LABEL, nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("agent_endpoint", NAME),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )


def _create_tokens_and_sessions() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("revoked_at"),
        _time("last_used_at"),
        _fk("user_id", "users", "api_tokens", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        sa.Column("address", sa.String(64)),
        _fk("user_id", "users", "sessions", "CASCADE"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])


def _create_reviews() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", ID, nullable=False),
        sa.Column("recording_id", ID, nullable=False),
        sa.Column("scorecard", NAME, nullable=False),
        sa.Column("scorecard_version", sa.String(64), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("auto_failed", sa.Boolean(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("evaluator_id", ID, nullable=False),
        sa.Column("evaluator_name", NAME, nullable=False),
        _time("created_at", nullable=False),
        _time("acknowledged_at"),
        sa.Column("acknowledged_by", ID),
        _fk("recording_id", "recordings", "evaluations", "CASCADE"),
        _fk("evaluator_id", "users", "evaluations", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_evaluations"),
    )
    op.create_index(
        "ix_evaluations_recording_id_created_at", "evaluations", ["recording_id", "created_at"]
    )
    op.create_index("ix_evaluations_score_recording_id", "evaluations", ["score", "recording_id"])
    op.create_table(
        "comments",
        sa.Column("id", ID, nullable=False),
        sa.Column("recording_id", ID, nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("author_name", NAME, nullable=False),
        _time("created_at", nullable=False),
        _fk("recording_id", "recordings", "comments", "CASCADE"),
        _fk("author_id", "users", "comments", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
    )
    op.create_index("ix_comments_recording_id_offset_s", "comments", ["recording_id", "offset_s"])
    op.create_table(
        "recording_tags",
        sa.Column("recording_id", ID, nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("added_by", ID, nullable=False),
        _time("added_at", nullable=False),
        _fk("recording_id", "recordings", "recording_tags", "CASCADE"),
        sa.PrimaryKeyConstraint("recording_id", "tag", name="pk_recording_tags"),
    )
    op.create_index("ix_recording_tags_tag_recording_id", "recording_tags", ["tag", "recording_id"])


def _create_audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _time("at", nullable=False),
        sa.Column("actor_id", ID),
        sa.Column("actor_name", NAME, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255)),
        sa.Column("address", sa.String(64)),
        sa.Column("reason", sa.String(500)),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    _guard_audit_log()


def _guard_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
        return
    for name in ("update", "delete"):
        op.execute(_SQLITE_GUARDS.format(op=name, OP=name.upper()))
