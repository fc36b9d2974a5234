"""The recording pipeline's tables: recordings and the durable queue of their pipeline jobs.

A recording belongs to a call (`calls.id`); its job walks fetch, transcode, encrypt, store
and verify, leased by one worker at a time (`zentrale.recording.jobs`).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import zentrale.calls.models  # noqa: F401  (the calls table its foreign key names)
from zentrale.db.base import ID, LABEL, NAME, Base, _label


class RecordingState(enum.StrEnum):
    """Where a recording is in its life: on Asterisk, in our storage, or lost."""

    FINISHED = "finished"
    STORED = "stored"
    FAILED = "failed"
    DELETED = "deleted"


class JobStep(enum.StrEnum):
    """The standard pipeline steps' names, in order (the job row may name a plug-in step)."""

    FETCH = "fetch"
    TRANSCODE = "transcode"
    TALK = "talk"
    ENCRYPT = "encrypt"
    UPLOAD = "upload"
    VERIFY = "verify"
    COMMIT = "commit"
    DELETE_SOURCE = "delete_source"
    CLEANUP = "cleanup"
    DONE = "done"


class JobState(enum.StrEnum):
    """Whether a job waits, is leased by a worker, has finished, or is parked after failures."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Recording(Base):
    """One recording of a call, its encryption envelope and where the ciphertext lives."""

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="RESTRICT"))
    asterisk_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[RecordingState] = mapped_column(_label(RecordingState))
    format: Mapped[str] = mapped_column(String(16))
    duration_s: Mapped[float | None] = mapped_column(Float)
    plaintext_size: Mapped[int | None] = mapped_column(BigInteger)
    # Ranged reads need the size the object had when written (see docs/encryption.md).
    object_size: Mapped[int | None] = mapped_column(BigInteger)
    sha256_plain: Mapped[str | None] = mapped_column(String(64))
    sha256_cipher: Mapped[str | None] = mapped_column(String(64))
    storage_backend: Mapped[str | None] = mapped_column(LABEL)
    object_key: Mapped[str | None] = mapped_column(String(512))
    # [{"key_id": ..., "provider": ..., "wrapped": base64}, ...]: one entry per key holder.
    wrapped_keys: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    encryption_header: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pause_markers: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    # One byte per peak (0-255): about 1 kB for a waveform the QA player draws.
    waveform: Mapped[bytes | None] = mapped_column(LargeBinary)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    corrupt: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]
    stored_at: Mapped[dt.datetime | None]
    department: Mapped[str | None] = mapped_column(NAME)
    agent_endpoint: Mapped[str | None] = mapped_column(NAME)
    agent_name: Mapped[str | None] = mapped_column(NAME)
    # Conversation figures (zentrale.recording.talk), from the plaintext before encryption;
    # None until analysed. Times only, never audio; destroyed with the recording's keys.
    talk_customer_s: Mapped[float | None] = mapped_column(Float)
    talk_agent_s: Mapped[float | None] = mapped_column(Float)
    dead_air_s: Mapped[float | None] = mapped_column(Float)
    longest_dead_air_s: Mapped[float | None] = mapped_column(Float)
    overtalk_s: Mapped[float | None] = mapped_column(Float)
    overtalk_count: Mapped[int | None] = mapped_column(Integer)
    longest_monologue_s: Mapped[float | None] = mapped_column(Float)
    agent_talk_ratio: Mapped[float | None] = mapped_column(Float)
    # {"segments": [[party, start, end], ...], "silences": [[start, end], ...], "overtalks": ...}
    talk_segments: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        # Also the index for "recordings of a call"; a replayed RecordingFinished finds its row.
        UniqueConstraint("call_id", "asterisk_name", name="uq_recordings_call_id_asterisk_name"),
        Index("ix_recordings_department_created_at", "department", "created_at"),
        Index("ix_recordings_agent_endpoint_created_at", "agent_endpoint", "created_at"),
    )


class RecordingJob(Base):
    """The pipeline's durable work item for one recording: its next step and its lease."""

    __tablename__ = "recording_jobs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    # A `JobStep` value or the name of a step registered beside them (`recording.steps`).
    step: Mapped[str] = mapped_column(LABEL)
    state: Mapped[JobState] = mapped_column(_label(JobState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(String(2000))
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_recording_jobs_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_recording_jobs_recording_id", "recording_id"),
    )
