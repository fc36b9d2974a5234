"""Hot reload: watch the routing file, validate changes off the event loop, swap atomically.

A valid change becomes `current` in one reference assignment; calls in progress keep the
`Rules` they started with. A bad change leaves `current` alone, is logged with its located
errors and is exposed (`last_error`, `refused`) for metrics and the status command.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from watchfiles import Change, awatch

from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.history import History
from zentrale.routing.load import load_rules
from zentrale.routing.rules import Rules

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What one reload attempt did."""

    applied: bool
    version: str | None
    error: InvalidRulesError | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RulesReloader:
    """Keeps the live routing rules in step with a file, refusing invalid versions."""

    def __init__(
        self,
        path: Path,
        history: History | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        debounce_ms: int = 200,
    ) -> None:
        self.path = path
        self.history = history
        self._clock = clock
        self._debounce_ms = debounce_ms
        self._current: Rules | None = None
        self._listeners: list[Callable[[ReloadOutcome], None]] = []
        self.applied_at: dt.datetime | None = None
        self.last_error: InvalidRulesError | None = None
        self.applied = 0
        self.refused = 0

    @property
    def current(self) -> Rules:
        """Return the rules new calls must use."""
        if self._current is None:
            raise RuntimeError("routing rules not loaded yet: await load_initial() first")
        return self._current

    def subscribe(self, listener: Callable[[ReloadOutcome], None]) -> None:
        """Call `listener` with the outcome of every reload attempt."""
        self._listeners.append(listener)

    async def load_initial(self) -> Rules:
        """Load the file at start-up; an invalid file raises, as there is nothing to keep."""
        outcome = await self.reload()
        if outcome.error is not None:
            raise outcome.error
        return self.current

    async def reload(self) -> ReloadOutcome:
        """Validate the file in a thread and apply it if valid and changed."""
        try:
            rules = await asyncio.to_thread(load_rules, self.path)
        except InvalidRulesError as error:
            return self._notify(self._refuse(error))
        if self._current is not None and rules.version == self._current.version:
            return self._notify(ReloadOutcome(False, rules.version))
        return self._notify(await self._apply(rules))

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        """Reload whenever the file changes, until `stop` is set."""
        directory, name = self.path.parent, self.path.name

        def concerns_file(change: Change, changed: str) -> bool:
            return Path(changed).name == name and change != Change.deleted

        async for _ in awatch(
            directory,
            watch_filter=concerns_file,
            stop_event=stop,
            debounce=self._debounce_ms,
            recursive=False,
        ):
            await self.reload()

    def status(self) -> dict[str, object]:
        """Return the reloader's state for metrics and the status command."""
        return {
            "file": str(self.path),
            "version": self._current.version if self._current else None,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "applied": self.applied,
            "refused": self.refused,
            "last_error": [str(i) for i in self.last_error.issues] if self.last_error else [],
        }

    async def _apply(self, rules: Rules) -> ReloadOutcome:
        now = self._clock()
        if self.history is not None:
            await asyncio.to_thread(self.history.record, rules, now)
        self._current, self.applied_at, self.last_error = rules, now, None
        self.applied += 1
        log.info(
            "routing.applied",
            file=str(self.path),
            version=rules.version,
            warnings=[str(w) for w in rules.warnings],
        )
        return ReloadOutcome(True, rules.version)

    def _refuse(self, error: InvalidRulesError) -> ReloadOutcome:
        self.last_error = error
        self.refused += 1
        kept = self._current.version if self._current else None
        log.error(
            "routing.refused",
            file=str(self.path),
            kept_version=kept,
            errors=[str(issue) for issue in error.issues],
        )
        return ReloadOutcome(False, kept, error)

    def _notify(self, outcome: ReloadOutcome) -> ReloadOutcome:
        for listener in self._listeners:
            listener(outcome)
        return outcome
