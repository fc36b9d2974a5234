"""The QA service's tables on zentrale's metadata: users, tokens, sessions, reviews, audit.

They share `zentrale.db.models.Base`, so Alembic's comparison sees them; migration
`v0002_qa` creates exactly this schema. Like the core models they carry no relationships:
stores return detached rows. Roles and departments live on the user row; the audit log is
append-only and hash-chained (`zentrale.api.audit`).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.models import ID, NAME, Base, _label


class Role(enum.StrEnum):
    """What a user may do; the matrix is in `zentrale.api.matrix` and docs/qa.md."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    QA = "qa"
    AGENT = "agent"


class User(Base):
    """A person who signs in to the QA service."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(NAME)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_label(Role))
    # Departments whose recordings the user sees (admins see all).
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    # For agents: the endpoint whose calls are theirs.
    agent_endpoint: Mapped[str | None] = mapped_column(NAME)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]


class ApiToken(Base):
    """A personal API token: only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)


class BrowserSession(Base):
    """A signed-in browser: the cookie holds a random id, the row its hash and CSRF token."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_sessions_user_id", "user_id"),)


class Evaluation(Base):
    """One scorecard filled in for one recording."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    scorecard: Mapped[str] = mapped_column(NAME)
    scorecard_version: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float)
    auto_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    evaluator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    evaluator_name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(ID)

    __table_args__ = (
        Index("ix_evaluations_recording_id_created_at", "recording_id", "created_at"),
        Index("ix_evaluations_score_recording_id", "score", "recording_id"),
    )


class Comment(Base):
    """A reviewer's remark pinned to a moment of a recording."""

    __tablename__ = "comments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    offset_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    author_name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_comments_recording_id_offset_s", "recording_id", "offset_s"),)


class RecordingTag(Base):
    """A tag on a recording (free text, lower case)."""

    __tablename__ = "recording_tags"

    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_by: Mapped[str] = mapped_column(ID)
    added_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_recording_tags_tag_recording_id", "tag", "recording_id"),)


class AuditEntry(Base):
    """One audited action; `hash` covers the previous entry's hash and every field here."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor_id: Mapped[str | None] = mapped_column(ID)
    actor_name: Mapped[str] = mapped_column(NAME)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target"),
    )


# Search indexes on the core `recordings` table (created by v0002; declared here so the
# models match the migration): newest-first across all departments, and by duration.
_recordings = Base.metadata.tables["recordings"]
QA_RECORDING_INDEXES = (
    Index("ix_recordings_created_at_id", _recordings.c.created_at, _recordings.c.id),
    Index("ix_recordings_duration_s_id", _recordings.c.duration_s, _recordings.c.id),
)
