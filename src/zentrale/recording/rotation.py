"""Key rotation: re-wrap every stored recording's data key for the current recipients.

Audio is never re-encrypted: each recording's data key is unwrapped once with whichever key
at hand opens it, wrapped for every current recipient key that lacks a wrap, and the wraps
by keys that are no longer recipients are dropped (unless asked to keep them). Only the
`wrapped_keys` column changes; the object in storage is untouched. Recordings are visited in
id order, a batch at a time; the key work runs in a thread with no transaction open, and a
batch is written only where the row still holds what was read, so a recording erased
(crypto-shredded) meanwhile is never given keys again. A recording already wrapped for exactly
the current keys is skipped without calling any key service, so a rerun after a crash or an
outage resumes where the last one stopped and a finished rotation is a no-op. `key_usage`
counts what each key protects, for `zentrale keys status` and for retirement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select

from zentrale.db.session import Database
from zentrale.recording.keys.base import (
    KeyProviderError,
    KeyServiceUnavailableError,
    KeyUnwrapper,
    KeyWrapper,
    WrappedKey,
    unwrap_any,
    wrapped_keys_from_json,
    wrapped_keys_to_json,
)
from zentrale.recording.models import Recording, RecordingState

log = structlog.get_logger(__name__)

DEFAULT_BATCH = 200


@dataclass(slots=True)
class KeyUse:
    """How many recordings one key protects, and how many of them only it protects."""

    provider: str
    key_id: str
    recordings: int = 0
    only: int = 0

    @property
    def also(self) -> int:
        """Return how many recordings it protects beside other keys."""
        return self.recordings - self.only


@dataclass(slots=True)
class Usage:
    """What every key found in the recordings table protects."""

    keys: dict[str, KeyUse] = field(default_factory=dict)
    with_keys: int = 0
    shredded: int = 0
    """Stored recordings without any wrapped key: erased, no key can open them."""
    in_pipeline: int = 0
    """Recordings not stored yet: their keys are decided when the pipeline seals them."""

    def of(self, key_id: str) -> KeyUse | None:
        """Return the use of KEY_ID, or None when no recording names it."""
        return self.keys.get(key_id)


async def key_usage(db: Database, batch: int = DEFAULT_BATCH) -> Usage:
    """Count, per key id, the recordings whose data key it wraps."""
    usage = Usage()
    async for _rid, state, wrapped in _pages(db, batch):
        if not wrapped:
            if state == RecordingState.STORED:
                usage.shredded += 1
            elif state == RecordingState.FINISHED:
                usage.in_pipeline += 1
            continue
        usage.with_keys += 1
        ids = {(str(item.get("provider")), str(item.get("key_id"))) for item in wrapped}
        for provider, key_id in ids:
            use = usage.keys.setdefault(key_id, KeyUse(provider, key_id))
            use.recordings += 1
            use.only += len(ids) == 1
    return usage


async def _pages(db: Database, batch: int) -> Any:
    cursor = ""
    while True:
        query = (
            select(Recording.id, Recording.state, Recording.wrapped_keys)
            .where(Recording.id > cursor)
            .order_by(Recording.id)
            .limit(batch)
        )
        async with db.read() as session:
            rows = list(await session.execute(query))
        for rid, state, wrapped in rows:
            yield rid, state, list(wrapped or [])
        if len(rows) < batch:
            return
        cursor = rows[-1][0]


@dataclass(slots=True)
class RotationReport:
    """What one rotation run did."""

    examined: int = 0
    rewrapped: int = 0
    current: int = 0
    """Already wrapped for exactly the current keys (nothing to do)."""
    shredded: int = 0
    raced: int = 0
    """Changed by someone else between read and write; the next run takes them."""
    failed: dict[str, str] = field(default_factory=dict)
    """Recording id to the reason its key could not be opened."""

    @property
    def complete(self) -> bool:
        """Return whether every recording with keys is now wrapped for the current keys only."""
        return not self.failed and not self.raced


@dataclass(frozen=True, slots=True)
class Recipient:
    """A current recipient: the wrapper and the key id its wraps are recorded under."""

    wrapper: KeyWrapper
    key_id: str


class Rotation:
    """Re-wraps every recording's data key for RECIPIENTS, opening it with UNWRAPPERS."""

    def __init__(
        self,
        db: Database,
        recipients: Sequence[Recipient],
        unwrappers: Sequence[KeyUnwrapper],
        *,
        keep_old: bool = False,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        if not recipients:
            raise ValueError("at least one recipient is needed, or every recording is lost")
        self._db = db
        self._recipients = tuple(recipients)
        self._targets = frozenset(r.key_id for r in recipients)
        self._unwrappers = tuple(unwrappers)
        self._keep_old = keep_old
        self._batch = batch

    async def run(self, progress: Callable[[RotationReport], None] | None = None) -> RotationReport:
        """Visit every recording once; on an outage save, then raise KeyServiceUnavailableError."""
        report = RotationReport()
        cursor = ""
        while True:
            rows = await self._read(cursor)
            if not rows:
                return report
            cursor = rows[-1][0]
            changes, outage = await asyncio.to_thread(self._rewrap_all, rows, report)
            await self._write(changes, report)
            if progress is not None:
                progress(report)
            if outage is not None:
                raise outage

    async def _read(self, cursor: str) -> list[tuple[str, list[dict[str, str]]]]:
        query = (
            select(Recording.id, Recording.wrapped_keys)
            .where(Recording.id > cursor, Recording.state == RecordingState.STORED)
            .order_by(Recording.id)
            .limit(self._batch)
        )
        async with self._db.read() as session:
            return [(rid, list(wrapped or [])) for rid, wrapped in await session.execute(query)]

    def _rewrap_all(
        self, rows: list[tuple[str, list[dict[str, str]]]], report: RotationReport
    ) -> tuple[dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]], Exception | None]:
        changes: dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]] = {}
        for rid, wrapped in rows:
            report.examined += 1
            try:
                new = self._rewrap(rid, wrapped)
            except KeyServiceUnavailableError as exc:
                report.examined -= 1
                return changes, exc
            except KeyProviderError as exc:
                report.failed[rid] = str(exc)
                log.warning("keys.rotate_failed", recording_id=rid, error=str(exc))
                continue
            if new is None:
                report.shredded += not wrapped
                report.current += bool(wrapped)
            else:
                changes[rid] = (wrapped, new)
        return changes, None

    def _rewrap(self, rid: str, stored: list[dict[str, str]]) -> list[dict[str, str]] | None:
        """Return the new wrapped keys of one recording, or None when nothing changes."""
        if not stored:
            return None  # crypto-shredded: nothing to open, and it must stay that way
        current = wrapped_keys_from_json(stored)
        have = {item.key_id for item in current}
        missing = [r for r in self._recipients if r.key_id not in have]
        kept = [item for item in current if self._keep_old or item.key_id in self._targets]
        if not missing and len(kept) == len(current):
            return None
        added: list[WrappedKey] = []
        if missing:
            data_key = unwrap_any(current, self._unwrappers, rid)
            added = [_wrap(r, data_key, rid) for r in missing]
        return wrapped_keys_to_json([*kept, *added])

    async def _write(
        self,
        changes: dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]],
        report: RotationReport,
    ) -> None:
        if not changes:
            return
        query = select(Recording).where(Recording.id.in_(changes)).with_for_update()
        async with self._db.write() as session:
            for row in await session.scalars(query):
                before, after = changes[row.id]
                if list(row.wrapped_keys or []) != before:
                    report.raced += 1  # erased or rotated meanwhile: leave it as it is now
                    continue
                row.wrapped_keys = after
                report.rewrapped += 1
        log.info("keys.rewrapped", recordings=len(changes), total=report.rewrapped)


def _wrap(recipient: Recipient, data_key: bytes, rid: str) -> WrappedKey:
    wrapped = recipient.wrapper.wrap(data_key, rid)
    if wrapped.key_id != recipient.key_id:
        raise KeyProviderError(
            f"key {recipient.key_id!r} wrapped as {wrapped.key_id!r}: recipient ids disagree"
        )
    return wrapped
