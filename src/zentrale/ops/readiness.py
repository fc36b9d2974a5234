"""Readiness: may this node take calls? ARI connected, database reachable, storage writable,
rules loaded, not draining.

Each check names itself and, when it fails, says why in a few words (an exception's type, never
a URL, host or secret: `/readyz` is unauthenticated). The database and storage probes do real
I/O (`SELECT 1`; writing and deleting a small object), so their result is reused for
`interval` seconds and only one probe runs at a time, however often a load balancer asks.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog
from sqlalchemy import text

from zentrale.db.session import Database
from zentrale.ops.metrics import OwnErrors
from zentrale.recording.storage.base import ObjectStore
from zentrale.telephony.ari.connection import ConnectionState

log = structlog.get_logger(__name__)

PROBE_TIMEOUT = 5.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class Disk:
    """A directory the pipeline writes to, and the free space it must keep."""

    name: str
    path: Path
    min_free: int
    """Bytes."""


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and why not."""

    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        """Return the check as JSON-ready data."""
        return asdict(self)


class Readiness:
    """Runs the readiness checks of one daemon."""

    def __init__(
        self,
        ari: Callable[[], ConnectionState],
        db: Database,
        store: ObjectStore | None,
        rules_version: Callable[[], str | None],
        accepting: Callable[[], bool],
        node: str,
        interval: float,
        errors: OwnErrors,
        disks: Sequence[Disk] = (),
    ) -> None:
        self._ari, self._db, self._store = ari, db, store
        self._rules_version, self._accepting = rules_version, accepting
        self._probe_key = f"zentrale-health/{node}"
        self._interval = interval
        self._errors = errors
        self._disks = tuple(disks)
        self._probed: tuple[float, list[Check]] | None = None
        self._lock = asyncio.Lock()

    async def checks(self) -> list[Check]:
        """Return every check, probing the database and storage at most once per interval."""
        return [self._ari_check(), *await self._probes(), self._rules_check(), self._drain_check()]

    def _ari_check(self) -> Check:
        state = self._ari()
        if state.connected:
            return Check("ari", True, "connected")
        reason = (state.last_error or "never connected").split(":", 1)[0]
        self._errors.last["ari"] = reason
        return Check("ari", False, f"not connected ({reason})")

    def _rules_check(self) -> Check:
        version = self._rules_version()
        if version is None:
            return Check("rules", False, "no routing rules loaded")
        return Check("rules", True, f"version {version}")

    def _drain_check(self) -> Check:
        if self._accepting():
            return Check("accepting", True, "taking new calls")
        return Check("accepting", False, "draining: new calls go to the dialplan fallback")

    async def _probes(self) -> list[Check]:
        async with self._lock:
            now = time.monotonic()
            if self._probed is None or now - self._probed[0] >= self._interval:
                found = await asyncio.gather(
                    self._database(), self._storage(), *(self._disk(d) for d in self._disks)
                )
                self._probed = (time.monotonic(), list(found))
            return self._probed[1]

    async def _database(self) -> Check:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), self._db.read() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means not ready; the type says which
            self._errors.db += 1
            return self._failed("database", "unreachable", exc)
        return Check("database", True, "reachable")

    async def _storage(self) -> Check:
        if self._store is None:
            return Check("storage", True, "no recording pipeline on this node")
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await asyncio.to_thread(self._write_probe, self._store)
        except Exception as exc:  # any failure means not ready; the type says which
            self._errors.storage += 1
            return self._failed("storage", "not writable", exc)
        return Check("storage", True, "writable")

    async def _disk(self, disk: Disk) -> Check:
        name = f"disk:{disk.name}"
        try:
            free = (await asyncio.to_thread(shutil.disk_usage, _existing(disk.path))).free
        except OSError as exc:
            return self._failed(name, "not readable", exc)
        detail = f"{free // MIB} MiB free, {disk.min_free // MIB} MiB needed"
        if free < disk.min_free:
            self._errors.last[name] = "low on space"
            log.warning("ops.not_ready", check=name, free_mib=free // MIB)
            return Check(name, False, f"low on space: {detail}")
        return Check(name, True, detail)

    def _write_probe(self, store: ObjectStore) -> None:
        store.put(self._probe_key, [b"ok"])
        store.delete(self._probe_key)

    def _failed(self, name: str, what: str, exc: Exception) -> Check:
        reason = type(exc).__name__
        self._errors.last[name] = reason
        log.warning("ops.not_ready", check=name, error=reason)
        return Check(name, False, f"{what} ({reason})")


def _existing(path: Path) -> Path:
    """Return PATH, or its nearest existing parent (a store made on first use)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
