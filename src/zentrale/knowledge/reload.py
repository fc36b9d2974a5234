"""Hot reload of the scripts and articles: validate a changed set off the event loop, swap it.

As with the routing rules (`zentrale.routing.reload`): a valid, changed set becomes `current`
in one assignment and is recorded in the history; an invalid one is refused, logged with its
located errors and kept in `last_error`, and the last good set stays live.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from watchfiles import Change, awatch

from zentrale.knowledge.errors import InvalidKnowledgeError
from zentrale.knowledge.history import KnowledgeHistory
from zentrale.knowledge.load import EMPTY, Knowledge, load_knowledge

log = structlog.get_logger(__name__)
Departments = Callable[[], frozenset[str] | None]


@dataclass(frozen=True, slots=True)
class KnowledgeOutcome:
    """What one reload attempt did."""

    applied: bool
    version: str | None
    error: InvalidKnowledgeError | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KnowledgeReloader:
    """Keeps the live scripts and articles in step with a directory, refusing invalid sets."""

    def __init__(
        self,
        directory: Path | None,
        departments: Departments = lambda: None,
        history: KnowledgeHistory | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        debounce_ms: int = 200,
    ) -> None:
        self.directory = directory
        self.history = history
        self._departments = departments
        self._clock = clock
        self._debounce_ms = debounce_ms
        self.current: Knowledge = EMPTY
        self.applied_at: dt.datetime | None = None
        self.last_error: InvalidKnowledgeError | None = None
        self.applied = 0
        self.refused = 0

    async def load_initial(self) -> Knowledge:
        """Load the set at start-up; an invalid set raises, as there is nothing to keep."""
        outcome = await self.reload()
        if outcome.error is not None:
            raise outcome.error
        return self.current

    async def reload(self) -> KnowledgeOutcome:
        """Validate the directory in a thread and apply it if valid and changed."""
        try:
            found = await asyncio.to_thread(load_knowledge, self.directory, self._departments())
        except InvalidKnowledgeError as error:
            return self._refuse(error)
        if found.version == self.current.version and self.applied:
            return KnowledgeOutcome(False, found.version)
        now = self._clock()
        if self.history is not None and found.files:
            await asyncio.to_thread(self.history.record, found, now)
        self.current, self.applied_at, self.last_error = found, now, None
        self.applied += 1
        log.info("knowledge.applied", dir=str(self.directory), version=found.version)
        return KnowledgeOutcome(True, found.version)

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        """Reload whenever a Markdown file of the directory changes, until STOP is set."""
        if self.directory is None or not self.directory.is_dir():
            return

        def concerns(change: Change, changed: str) -> bool:
            return changed.endswith(".md")

        async for _ in awatch(
            self.directory, watch_filter=concerns, stop_event=stop, debounce=self._debounce_ms
        ):
            await self.reload()

    def status(self) -> dict[str, object]:
        """Return the reloader's state for the status route."""
        return {
            "dir": str(self.directory) if self.directory else None,
            "version": self.current.version,
            "scripts": len(self.current.scripts),
            "articles": len(self.current.articles),
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "applied": self.applied,
            "refused": self.refused,
            "last_error": [str(i) for i in self.last_error.issues] if self.last_error else [],
        }

    def _refuse(self, error: InvalidKnowledgeError) -> KnowledgeOutcome:
        self.last_error = error
        self.refused += 1
        log.error(
            "knowledge.refused",
            dir=str(self.directory),
            kept_version=self.current.version,
            errors=[str(issue) for issue in error.issues],
        )
        return KnowledgeOutcome(False, self.current.version, error)
