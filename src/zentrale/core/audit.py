"""The audit log: who did what, when, from where and why; append-only and hash-chained.

Every entry's `hash` is SHA-256 over the previous entry's hash and the entry's own fields
(canonical JSON), so editing, inserting or removing an entry breaks the chain from there on,
and `verify` finds it. Appends are serialised (an advisory lock on PostgreSQL, SQLite's write
lock) and are made in the caller's transaction, so a change and its entry commit together.
Cutting entries off the end, or rewriting the chain with recomputed hashes, leaves a chain
that verifies on its own: `core.anchor` keeps signed checkpoints of the head outside the
database to find that.
Phone numbers in an entry (target, reason, detail) are masked before it is written: the log
cannot be changed later, so a data subject's erasure could not reach them there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.config.logging import NUMBER_KEYS, mask_number, mask_text
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database

GENESIS = "0" * 64
_LOCK_KEY = 0x7A656E74  # "zent": PostgreSQL advisory lock serialising appends
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and from which address."""

    user_id: str | None
    name: str
    address: str | None


@dataclass(frozen=True, slots=True)
class Event:
    """What is being audited."""

    action: str
    target: str | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """Return the chain hash of an entry with FIELDS after PREV_HASH."""
    body = json.dumps([prev_hash, fields], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.astimezone(dt.UTC).isoformat(),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "target": entry.target,
        "address": entry.address,
        "reason": entry.reason,
        "detail": entry.detail,
    }


async def append(session: AsyncSession, actor: Actor, event: Event, at: dt.datetime) -> AuditEntry:
    """Add one entry at the end of the chain, inside SESSION's transaction."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).one_or_none()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor_id=actor.user_id,
        actor_name=actor.name,
        action=event.action,
        target=_masked(event.target),
        address=actor.address,
        reason=_masked(event.reason),
        detail=_masked(dict(event.detail)),
        prev_hash=prev,
        hash="",
    )
    entry.hash = entry_hash(prev, _fields(entry))
    session.add(entry)
    await session.flush()
    return entry


def _masked(value: Any, key: str = "") -> Any:
    """Mask phone numbers and e-mail addresses before they enter the append-only log (it
    cannot be erased later)."""
    if isinstance(value, dict):
        return {name: _masked(item, str(name).lower()) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item, key) for item in value]
    if isinstance(value, str):
        return mask_number(value) if key in NUMBER_KEYS and value else mask_text(value)
    return value


async def record(db: Database, actor: Actor, event: Event, at: dt.datetime) -> None:
    """Append one entry in its own transaction (for reads: searches, listens, downloads)."""
    async with db.write() as session:
        await append(session, actor, event, at)


@dataclass
class Report:
    """What `verify` found: entries checked, the head hash, and every break in the chain."""

    entries: int = 0
    head: str = GENESIS
    checkpoints: int = 0
    """Signed checkpoints checked against the chain (core.anchor)."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the chain is intact."""
        return not self.problems


async def entries(db: Database) -> AsyncIterator[AuditEntry]:
    """Yield every entry in order, in batches."""
    after = 0
    while True:
        query = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq)
        async with db.read() as session:
            batch = list(await session.scalars(query.limit(_BATCH)))
        for entry in batch:
            yield entry
        if len(batch) < _BATCH:
            return
        after = batch[-1].seq


async def verify(db: Database) -> Report:
    """Recompute the chain from the first entry and report every mismatch."""
    report, expected_seq, prev = Report(), 1, GENESIS
    async for entry in entries(db):
        if entry.seq != expected_seq:
            report.problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing")
        if entry.prev_hash != prev:
            report.problems.append(f"entry {entry.seq}: does not follow the entry before it")
        if entry.hash != entry_hash(entry.prev_hash, _fields(entry)):
            report.problems.append(f"entry {entry.seq}: its contents were changed")
        report.entries += 1
        expected_seq, prev = entry.seq + 1, entry.hash
    report.head = prev
    return report
