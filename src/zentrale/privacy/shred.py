"""Crypto-shredding one recording and writing its destruction record.

The object is deleted from storage first; only then, in one transaction, are the wrapped data
keys, the encryption header, the waveform and the conversation figures removed, the row marked
`deleted` and the destruction record written. A storage failure leaves the recording as it
was (the next run retries); a crash after the delete leaves a stored row without an object,
which the next run finishes. Without its wrapped keys no copy of the object, even one in a
backup, can be decrypted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass

import structlog

from zentrale.db.session import Database
from zentrale.privacy.models import DestroyedKind, DestructionReason, DestructionRecord
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.store import talk_columns

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Destruction:
    """Why and by whom something is destroyed, and how long the record of it is kept."""

    reason: DestructionReason
    actor: str
    now: dt.datetime
    keep_years: int
    rule: str | None = None
    request_id: str | None = None

    @property
    def keep_until(self) -> dt.datetime:
        """Return when the destruction record may go: KEEP_YEARS calendar years later."""
        try:
            return self.now.replace(year=self.now.year + self.keep_years)
        except ValueError:  # 29 February
            return self.now.replace(year=self.now.year + self.keep_years, day=28)

    def record(
        self, kind: DestroyedKind, call_id: str, recording: Recording | None = None
    ) -> DestructionRecord:
        """Return the destruction record of a recording or of a call's numbers."""
        return DestructionRecord(
            id=str(uuid.uuid4()),
            kind=kind,
            reason=self.reason,
            recording_id=recording.id if recording else None,
            call_id=call_id,
            object_key=recording.object_key if recording else None,
            storage_backend=recording.storage_backend if recording else None,
            sha256_plain=recording.sha256_plain if recording else None,
            sha256_cipher=recording.sha256_cipher if recording else None,
            rule=self.rule,
            request_id=self.request_id,
            actor=self.actor,
            destroyed_at=self.now,
            keep_until=self.keep_until,
        )


async def shred(
    db: Database, store: ObjectStore, recording_id: str, why: Destruction
) -> DestructionRecord | None:
    """Delete the object and the keys of a stored recording; None if it was already gone.

    Storage errors propagate with nothing changed in the database.
    """
    async with db.read() as session:
        row = await session.get(Recording, recording_id)
    if row is None or row.state is RecordingState.DELETED:
        return None
    if row.object_key:
        await asyncio.to_thread(store.delete, row.object_key)
    async with db.write() as session:
        current = await session.get(Recording, recording_id, with_for_update=True)
        if current is None or current.state is RecordingState.DELETED:
            return None
        record = why.record(DestroyedKind.RECORDING, current.call_id, current)
        current.state = RecordingState.DELETED
        current.wrapped_keys = []
        current.encryption_header = None
        current.waveform = None
        for column, value in talk_columns(None).items():
            setattr(current, column, value)  # the conversation figures go with the audio
        session.add(record)
    log.info(
        "privacy.recording_shredded",
        recording_id=recording_id,
        reason=why.reason.value,
        rule=why.rule,
    )
    return record
