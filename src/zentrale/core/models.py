"""The tables of what every capability shares: users and roles, tokens, sessions, audit log.

Roles and departments live on the user row; the audit log is append-only and hash-chained
(`zentrale.core.audit`). Migration `v0002_qa` creates exactly this schema.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.base import ID, NAME, Base, _label


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
    # Second factor (core.totp): the TOTP secret (base32) from enrolment, the time it was
    # confirmed with a first code (only then is it asked for), the last time step used (a code
    # works once) and the SHA-256 of the unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[dt.datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_codes: Mapped[list[str] | None] = mapped_column(JSON)


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
