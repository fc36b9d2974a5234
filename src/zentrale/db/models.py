"""The tables of zentrale's metadata database, as SQLAlchemy 2 typed ORM models.

Calls and their timeline (written by the call flows), recordings and the durable queue of
recording-pipeline jobs. The first Alembic migration creates exactly this schema; a test
compares the two. Models carry no relationships on purpose: rows read by the stores are
returned detached, and nothing may lazy-load behind an `await`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so later migrations can address them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)
NUMBER = String(32)
NAME = String(128)
LABEL = String(32)


class Direction(enum.StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Outcome(enum.StrEnum):
    """How a call ended."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    ABANDONED_IN_MENU = "abandoned_in_menu"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    OVERFLOWED = "overflowed"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CLOSED = "closed"
    TRANSFERRED = "transferred"


class EventKind(enum.StrEnum):
    """What happened at one point of a call's timeline."""

    ARRIVED = "arrived"
    ANSWERED = "answered"
    CONSENT_PLAYED = "consent_played"
    CONSENT_FAILED = "consent_failed"
    MENU_ENTERED = "menu_entered"
    DIGIT = "digit"
    QUEUED = "queued"
    AGENT_RUNG = "agent_rung"
    AGENT_ANSWERED = "agent_answered"
    AGENT_NO_ANSWER = "agent_no_answer"
    TRANSFER = "transfer"
    VOICEMAIL = "voicemail"
    RECORDING_STARTED = "recording_started"
    RECORDING_PAUSED = "recording_paused"
    RECORDING_RESUMED = "recording_resumed"
    RECORDING_FINISHED = "recording_finished"
    HANGUP = "hangup"
    CONVERSATION_ENDED = "conversation_ended"
    SURVEY_ANSWER = "survey_answer"
    CALLBACK_REQUESTED = "callback_requested"
    MESSAGE_PLAYED = "message_played"


class RecordingState(enum.StrEnum):
    """Where a recording is in its life: on Asterisk, in our storage, or lost."""

    FINISHED = "finished"
    STORED = "stored"
    FAILED = "failed"
    DELETED = "deleted"


class JobStep(enum.StrEnum):
    """The next thing the recording pipeline does for a recording, in order."""

    FETCH = "fetch"
    TRANSCODE = "transcode"
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


def _label(kind: type[enum.StrEnum]) -> Enum:
    """A VARCHAR column checked by Python (no CHECK constraint: new values need no migration)."""
    return Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on both databases (SQLite keeps no zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} (give a timezone)")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base holding zentrale's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UtcDateTime()}


class Call(Base):
    """One inbound or outbound call, from arrival to hangup."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[Direction] = mapped_column(_label(Direction))
    caller_number: Mapped[str | None] = mapped_column(NUMBER)
    dialled_number: Mapped[str | None] = mapped_column(NUMBER)
    called_number: Mapped[str | None] = mapped_column(NUMBER)
    department: Mapped[str | None] = mapped_column(NAME)
    agent_endpoint: Mapped[str | None] = mapped_column(NAME)
    agent_name: Mapped[str | None] = mapped_column(NAME)
    language: Mapped[str | None] = mapped_column(String(16))
    arrived_at: Mapped[dt.datetime]
    answered_by_app_at: Mapped[dt.datetime | None]
    queued_at: Mapped[dt.datetime | None]
    agent_answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[Outcome | None] = mapped_column(_label(Outcome))
    hangup_cause_code: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str | None] = mapped_column(NAME)
    consent_version: Mapped[str | None] = mapped_column(LABEL)
    consent_language: Mapped[str | None] = mapped_column(String(16))
    asterisk_node: Mapped[str | None] = mapped_column(String(64))
    app_name: Mapped[str | None] = mapped_column(String(64))
    rules_version: Mapped[str | None] = mapped_column(String(64))
    # The last sequence number handed to call_events; bumped in the event's transaction.
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Figures of the timeline for the statistics, kept by `append_event` in each event's
    # transaction (see docs/statistics.md): conversation seconds (sum of conversation ends
    # minus agent answers, from arrival), conversations ended, blind transfers, queue
    # overflows and the department they overflowed from (NULL if from several).
    handle_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overflows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overflowed_from: Mapped[str | None] = mapped_column(NAME)

    __table_args__ = (
        Index("ix_calls_arrived_at", "arrived_at"),
        Index("ix_calls_caller_number_arrived_at", "caller_number", "arrived_at"),
        Index("ix_calls_department_arrived_at", "department", "arrived_at"),
    )


class CallEvent(Base):
    """One entry of a call's timeline; `seq` counts 1, 2, 3... within the call."""

    __tablename__ = "call_events"

    call_id: Mapped[str] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    kind: Mapped[EventKind] = mapped_column(_label(EventKind))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


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
    step: Mapped[JobStep] = mapped_column(_label(JobStep))
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
