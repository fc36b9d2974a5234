"""Data-protection tables on zentrale's metadata (migration v0003): holds, destruction, requests.

A legal hold names a call, a recording, a phone number or a department; while it is active
(not released) nothing it covers is purged or erased. A destruction record says what was
destroyed, under which rule, when and why, and holds no phone number, so it can outlive the
data by years. A subject request keeps the receipt of an export or an erasure, with the
subject's number masked.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.base import ID, LABEL, NAME, Base, _label


class HoldScope(enum.StrEnum):
    """What a legal hold covers."""

    CALL = "call"
    RECORDING = "recording"
    NUMBER = "number"
    DEPARTMENT = "department"


class DestructionReason(enum.StrEnum):
    """Why something was destroyed."""

    RETENTION = "retention"
    ERASURE = "erasure"


class DestroyedKind(enum.StrEnum):
    """What a destruction record is about."""

    RECORDING = "recording"
    CALL_NUMBERS = "call_numbers"


class RequestKind(enum.StrEnum):
    """A data-subject request: a copy of everything, or its erasure."""

    EXPORT = "export"
    ERASE = "erase"


class LegalHold(Base):
    """A hold on a call, recording, number or department, active until released."""

    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scope: Mapped[HoldScope] = mapped_column(_label(HoldScope))
    value: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]
    released_at: Mapped[dt.datetime | None]
    released_by: Mapped[str | None] = mapped_column(NAME)
    release_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_legal_holds_scope_value", "scope", "value"),)


class DestructionRecord(Base):
    """Proof that a recording (or a call's numbers) was destroyed: what, rule, when, why."""

    __tablename__ = "destruction_records"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[DestroyedKind] = mapped_column(_label(DestroyedKind))
    reason: Mapped[DestructionReason] = mapped_column(_label(DestructionReason))
    recording_id: Mapped[str | None] = mapped_column(ID)
    call_id: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str | None] = mapped_column(String(512))
    storage_backend: Mapped[str | None] = mapped_column(LABEL)
    sha256_plain: Mapped[str | None] = mapped_column(String(64))
    sha256_cipher: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(NAME)
    request_id: Mapped[str | None] = mapped_column(ID)
    actor: Mapped[str] = mapped_column(NAME)
    destroyed_at: Mapped[dt.datetime]
    keep_until: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_destruction_records_destroyed_at", "destroyed_at"),
        Index("ix_destruction_records_recording_id", "recording_id"),
    )


class SubjectRequest(Base):
    """One export or erasure for a data subject, with its receipt (numbers masked)."""

    __tablename__ = "subject_requests"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[RequestKind] = mapped_column(_label(RequestKind))
    subject: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_subject_requests_created_at", "created_at"),)
