"""`RecordingStore`: recordings' metadata, from Asterisk's RecordingFinished to stored ciphertext.

When Asterisk reports a finished recording, `recording_finished` writes the call's timeline
event, the recording row and the pipeline job in ONE transaction: either the pipeline will
pick the recording up, or nothing was written and the event handler sees the error. Once that
transaction commits, the store rings its `JobBell`, so an idle worker of this process claims
the job at once instead of at its next poll. The
pipeline later fills in hashes, storage location and the wrapped data keys (`mark_stored`).
QA search reads by department or agent and time, the indexed paths.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.clock import Clock, utcnow
from zentrale.calls.models import EventKind
from zentrale.calls.store import CallFacts, NewEvent, TimelineRows, append_events
from zentrale.db.base import column_values
from zentrale.db.session import Database
from zentrale.recording.bell import JobBell
from zentrale.recording.errors import RecordingNotFoundError
from zentrale.recording.models import JobState, JobStep, Recording, RecordingJob, RecordingState
from zentrale.recording.talk import TalkFigures

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A recording's data key wrapped by one key provider (base64 of the wrapped bytes)."""

    key_id: str
    provider: str
    wrapped: str

    def as_json(self) -> dict[str, str]:
        """Return the JSON object stored in `recordings.wrapped_keys`."""
        return {"key_id": self.key_id, "provider": self.provider, "wrapped": self.wrapped}


@dataclass(frozen=True, slots=True)
class FinishedRecording:
    """What Asterisk's RecordingFinished tells us about a recording."""

    call_id: str
    asterisk_name: str
    format: str
    duration_s: float | None = None
    pause_markers: Sequence[tuple[float, float]] = ()


@dataclass(frozen=True, slots=True)
class StoredRecording:
    """What the pipeline knows once the ciphertext is stored and verified."""

    plaintext_size: int
    object_size: int
    sha256_plain: str
    sha256_cipher: str
    storage_backend: str
    object_key: str
    wrapped_keys: Sequence[WrappedKey]
    encryption_header: dict[str, Any]
    stored_at: dt.datetime
    duration_s: float | None = None
    waveform: bytes | None = None
    silent: bool = False
    format: str | None = None
    """The stored audio format, when the pipeline transcoded (None keeps the received one)."""


@dataclass(frozen=True, slots=True)
class Queued:
    """Ids of the recording row and of its pipeline job."""

    recording_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class RecordingQuery:
    """A QA search: a department or an agent, and a time window of creation."""

    since: dt.datetime
    until: dt.datetime
    department: str | None = None
    agent_endpoint: str | None = None
    limit: int = field(default=100)


class RecordingStore:
    """Recordings and the hand-over to the recording pipeline."""

    def __init__(self, db: Database, clock: Clock = utcnow, bell: JobBell | None = None) -> None:
        self._db = db
        self._clock = clock
        self._bell = bell

    async def recording_finished(self, finished: FinishedRecording) -> Queued:
        """Write the timeline event, the recording and its pipeline job in one transaction.

        A replayed RecordingFinished (same call, same Asterisk name) writes nothing and
        returns the ids queued the first time.
        """
        later = TimelineRows()
        async with self._db.write() as session:
            queued = await self.recording_finished_in(session, finished, later)
            await later.insert(session)
        return queued

    async def recording_finished_in(
        self, session: AsyncSession, finished: FinishedRecording, later: TimelineRows
    ) -> Queued:
        """Do `recording_finished`'s writes inside SESSION's transaction (the journal's); the
        timeline row is numbered into LATER, which the caller inserts before it commits."""
        now = self._clock()
        queued = Queued(recording_id=str(uuid.uuid4()), job_id=str(uuid.uuid4()))
        if (earlier := await _queued(session, finished)) is not None:
            return earlier
        detail = {"recording_id": queued.recording_id, "name": finished.asterisk_name}
        event_ = NewEvent(EventKind.RECORDING_FINISHED, detail, now)
        # Numbering the event reads back the department and agent the recording row copies;
        # Core statements, so a later write of the same transaction sees the rows at once.
        call = await append_events(session, finished.call_id, [event_], later)
        connection = await session.connection()
        await connection.execute(_INSERT_RECORDING, _recording(queued, finished, call, now))
        await connection.execute(_INSERT_JOB, _job(queued, now))
        if self._bell is not None:
            _ring_after_commit(session, self._bell)
        # debug: the call flow's "recording.finished" (info) says it, the pipeline's
        # "pipeline.stored" says the rest; one line less per call at the node's full rate
        log.debug("recording queued", call_id=finished.call_id, recording_id=queued.recording_id)
        return queued

    async def mark_stored(self, recording_id: str, stored: StoredRecording) -> None:
        """Record where and how the recording is stored (idempotent: a retry sets the same)."""
        values: dict[str, Any] = {
            "state": RecordingState.STORED,
            "plaintext_size": stored.plaintext_size,
            "object_size": stored.object_size,
            "sha256_plain": stored.sha256_plain,
            "sha256_cipher": stored.sha256_cipher,
            "storage_backend": stored.storage_backend,
            "object_key": stored.object_key,
            "wrapped_keys": [key.as_json() for key in stored.wrapped_keys],
            "encryption_header": stored.encryption_header,
            "stored_at": stored.stored_at,
            "waveform": stored.waveform,
            "silent": stored.silent,
        }
        if stored.duration_s is not None:
            values["duration_s"] = stored.duration_s
        if stored.format is not None:
            values["format"] = stored.format
        await self._set(recording_id, values)

    async def set_talk(self, recording_id: str, figures: TalkFigures) -> None:
        """Keep the conversation figures of a recording (idempotent: a rerun sets the same)."""
        await self._set(recording_id, talk_columns(figures))

    async def mark_corrupt(self, recording_id: str) -> None:
        """Flag a recording whose source or ciphertext failed verification."""
        await self._set(recording_id, {"corrupt": True})

    async def set_state(self, recording_id: str, state: RecordingState) -> None:
        """Move a recording to STATE (e.g. failed after the job is parked)."""
        await self._set(recording_id, {"state": state})

    async def get(self, recording_id: str) -> Recording:
        """Return the recording, or raise RecordingNotFoundError."""
        async with self._db.read() as session:
            recording = await session.get(Recording, recording_id)
        if recording is None:
            raise RecordingNotFoundError(recording_id)
        return recording

    async def for_call(self, call_id: str) -> list[Recording]:
        """Return the recordings of a call, oldest first."""
        query = select(Recording).where(Recording.call_id == call_id).order_by(Recording.created_at)
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def search(self, query: RecordingQuery) -> list[Recording]:
        """Return recordings created in the window, by department and/or agent, newest first."""
        statement = (
            select(Recording)
            .where(Recording.created_at >= query.since, Recording.created_at < query.until)
            .order_by(Recording.created_at.desc())
            .limit(query.limit)
        )
        if query.department is not None:
            statement = statement.where(Recording.department == query.department)
        if query.agent_endpoint is not None:
            statement = statement.where(Recording.agent_endpoint == query.agent_endpoint)
        async with self._db.read() as session:
            return list(await session.scalars(statement))

    async def _set(self, recording_id: str, values: dict[str, Any]) -> None:
        parameters = {**column_values(Recording, values), "p_recording_id": recording_id}
        async with self._db.write() as session:
            result = await (await session.connection()).execute(_SET, parameters)
            if getattr(result, "rowcount", 0) != 1:
                raise RecordingNotFoundError(recording_id)


def _ring_after_commit(session: AsyncSession, bell: JobBell) -> None:
    """Ring BELL when SESSION's transaction commits (a rolled back job wakes nobody)."""

    def committed(_session: object) -> None:
        bell.ring()

    event.listen(session.sync_session, "after_commit", committed, once=True)


_QUEUED = (
    select(Recording.id, RecordingJob.id)
    .join(RecordingJob, RecordingJob.recording_id == Recording.id)
    .where(
        Recording.call_id == bindparam("p_call_id"),
        Recording.asterisk_name == bindparam("p_name"),
    )
    .order_by(RecordingJob.created_at)
    .limit(1)
)
_INSERT_RECORDING = insert(Recording)
_SET = update(Recording).where(Recording.id == bindparam("p_recording_id"))
_INSERT_JOB = insert(RecordingJob)


async def _queued(session: AsyncSession, finished: FinishedRecording) -> Queued | None:
    parameters = {"p_call_id": finished.call_id, "p_name": finished.asterisk_name}
    row = (await session.execute(_QUEUED, parameters)).one_or_none()
    return None if row is None else Queued(recording_id=row[0], job_id=row[1])


def _recording(
    queued: Queued, finished: FinishedRecording, call: CallFacts, now: dt.datetime
) -> dict[str, Any]:
    return {
        "id": queued.recording_id,
        "call_id": finished.call_id,
        "asterisk_name": finished.asterisk_name,
        "state": RecordingState.FINISHED,
        "format": finished.format,
        "duration_s": finished.duration_s,
        "pause_markers": [[start, end] for start, end in finished.pause_markers],
        "wrapped_keys": [],
        "silent": False,
        "corrupt": False,
        "created_at": now,
        "department": call.department,
        "agent_endpoint": call.agent_endpoint,
        "agent_name": call.agent_name,
    }


def _job(queued: Queued, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": queued.job_id,
        "recording_id": queued.recording_id,
        "step": JobStep.FETCH,
        "state": JobState.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def talk_columns(figures: TalkFigures | None) -> dict[str, Any]:
    """Return the recordings row's values for FIGURES (None: clear them)."""
    if figures is None:
        return dict.fromkeys(TALK_COLUMNS)
    two = figures.parties == 2
    return {
        "talk_customer_s": figures.customer_talk_s,
        "talk_agent_s": figures.agent_talk_s if two else None,
        "dead_air_s": figures.silence_s,
        "longest_dead_air_s": figures.longest_silence_s,
        "overtalk_s": figures.overtalk_s if two else None,
        "overtalk_count": figures.overtalk_count if two else None,
        "longest_monologue_s": figures.longest_monologue_s,
        "agent_talk_ratio": figures.agent_talk_ratio,
        "talk_segments": figures.as_json(),
    }


def overtalk_pct(recording: Recording) -> float | None:
    """Return the share of the recording both parties talked at once, in percent."""
    if recording.overtalk_s is None or not recording.duration_s:
        return None
    return recording.overtalk_s / recording.duration_s * 100


def agent_talk_pct(recording: Recording) -> float | None:
    """Return the agent's share of all talk, in percent."""
    ratio = recording.agent_talk_ratio
    return None if ratio is None else ratio * 100


TALK_COLUMNS = (
    "talk_customer_s",
    "talk_agent_s",
    "dead_air_s",
    "longest_dead_air_s",
    "overtalk_s",
    "overtalk_count",
    "longest_monologue_s",
    "agent_talk_ratio",
    "talk_segments",
)
