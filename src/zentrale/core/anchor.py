"""Signed checkpoints of the audit chain's head, kept outside the database.

The hash chain (`core.audit`) shows an edited or removed entry, but someone with write access
to the database can delete entries and recompute every hash after them, or cut entries off the
end: the shorter chain verifies. A checkpoint records the head (last `seq` and its `hash`) at a
moment, signed with HMAC-SHA256 under a key that is not in the database (`audit.anchor_key`,
default: made once in state_dir/secrets), and is written to the object store
(`audit-checkpoints/<seq>.json`; with S3 Object Lock on the bucket nobody can remove it) and to
the log. `verify_anchored` then checks the chain against every checkpoint: a checkpoint's entry
must still be there with the same hash. Rewriting the chain now also needs the key, and the
copies in the store and the logs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import structlog
from sqlalchemy import select

from zentrale.base.clock import Clock
from zentrale.base.secrets import kept_secret
from zentrale.config.settings import Settings
from zentrale.core.audit import Report, verify
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database

log = structlog.get_logger(__name__)

PREFIX = "audit-checkpoints/"


class Blobs(Protocol):
    """The part of an object store checkpoints need (`recording.storage` stores have it)."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store CHUNKS under KEY."""
        ...

    def get(self, key: str) -> Iterator[bytes]:
        """Return the object's bytes."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys starting with PREFIX."""
        ...


@runtime_checkable
class Retaining(Protocol):
    """A store that can lock an object against deletion until a time (S3 Object Lock)."""

    def put_retained(self, key: str, data: bytes, until: dt.datetime) -> int:
        """Store DATA under KEY, undeletable until UNTIL."""
        ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of the chain at a moment, and its signature."""

    seq: int
    head: str
    at: str
    signature: str

    @classmethod
    def signed(cls, key: bytes, seq: int, head: str, at: dt.datetime) -> Checkpoint:
        """Return the checkpoint of SEQ/HEAD at AT, signed with KEY."""
        when = at.astimezone(dt.UTC).isoformat()
        return cls(seq, head, when, _signature(key, seq, head, when))

    def valid(self, key: bytes) -> bool:
        """Tell whether the signature is KEY's."""
        expected = _signature(key, self.seq, self.head, self.at)
        return hmac.compare_digest(expected, self.signature)

    def to_bytes(self) -> bytes:
        """Return the JSON stored in the object store."""
        return json.dumps(asdict(self), sort_keys=True).encode()


def anchor_key(settings: Settings) -> bytes:
    """Return the key signing checkpoints: `audit.anchor_key`, else one made once."""
    secret = kept_secret(settings.state_dir, "audit-anchor-key", settings.audit.anchor_key)
    return secret.get_secret_value().encode()


def _signature(key: bytes, seq: int, head: str, at: str) -> str:
    body = json.dumps(["zentrale-audit-checkpoint", seq, head, at], separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


async def _head(db: Database) -> tuple[int, str] | None:
    query = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    async with db.read() as session:
        row = (await session.execute(query)).one_or_none()
    return (row[0], row[1]) if row else None


async def checkpoint(
    db: Database, store: Blobs, key: bytes, now: dt.datetime, retain_days: int = 0
) -> Checkpoint | None:
    """Write a signed checkpoint of the current head to STORE and the log (None: empty log).

    With RETAIN_DAYS and a store that can (S3: `put_retained`), the object is locked against
    deletion for that long (S3 Object Lock, compliance mode).
    """
    head = await _head(db)
    if head is None:
        return None
    point = Checkpoint.signed(key, head[0], head[1], now)
    name = f"{PREFIX}{point.seq:012d}.json"
    if retain_days and isinstance(store, Retaining):
        until = now + dt.timedelta(days=retain_days)
        await asyncio.to_thread(store.put_retained, name, point.to_bytes(), until)
    else:
        await asyncio.to_thread(store.put, name, [point.to_bytes()])
    log.info("audit.checkpoint", seq=point.seq, head=point.head, signature=point.signature)
    return point


async def checkpoints_running(
    db: Database, store: Blobs, key: bytes, interval: float, clock: Clock, retain_days: int = 0
) -> None:
    """Write a checkpoint every INTERVAL seconds while the head moves (run as a task)."""
    last: int | None = None
    while True:
        try:
            head = await _head(db)
            if head is not None and head[0] != last:
                await checkpoint(db, store, key, clock(), retain_days)
                last = head[0]
        except Exception:  # a store outage must not stop the service; the next round retries
            log.exception("audit.checkpoint_failed")
        await asyncio.sleep(interval)


def stored_checkpoints(store: Blobs) -> list[tuple[str, bytes]]:
    """Return (key, body) of every checkpoint object in STORE."""
    return [(name, b"".join(store.get(name))) for name in sorted(store.list(PREFIX))]


async def verify_anchored(db: Database, store: Blobs, key: bytes) -> Report:
    """Verify the chain, then that every signed checkpoint's entry is still there unchanged."""
    report = await verify(db)
    stored = await asyncio.to_thread(stored_checkpoints, store)
    last = await _head(db)
    hashes = await _hashes(db, [_seq(body) for _name, body in stored])
    for name, body in stored:
        point = _parse(body)
        if point is None or not point.valid(key):
            report.problems.append(f"{name}: not a checkpoint signed with this key")
            continue
        if last is None or point.seq > last[0]:
            end = last[0] if last else 0
            report.problems.append(
                f"the chain ends at entry {end} but the checkpoint of {point.at} saw entry "
                f"{point.seq}: entries were cut off the end"
            )
        elif hashes.get(point.seq) != point.head:
            report.problems.append(
                f"entry {point.seq} is not the one the checkpoint of {point.at} saw: "
                "the chain was rewritten"
            )
    report.checkpoints = len(stored)
    return report


async def _hashes(db: Database, seqs: list[int | None]) -> dict[int, str]:
    wanted = [seq for seq in seqs if seq is not None]
    if not wanted:
        return {}
    query = select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_(wanted))
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return {int(row[0]): str(row[1]) for row in rows}


def _parse(body: bytes) -> Checkpoint | None:
    try:
        data = json.loads(body)
        return Checkpoint(
            int(data["seq"]), str(data["head"]), str(data["at"]), str(data["signature"])
        )
    except (ValueError, KeyError, TypeError):
        return None


def _seq(body: bytes) -> int | None:
    point = _parse(body)
    return point.seq if point else None
