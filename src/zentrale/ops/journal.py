"""A call journal that also counts: calls in progress and calls ended by direction and outcome.

Every call flow writes its call's arrival and its end through the journal, inbound and
outbound alike, so counting there sees each call exactly once without touching the flows.
"""

from __future__ import annotations

from typing import Any

from zentrale.calls.store import CallStore, Hangup, NewCall
from zentrale.ops.metrics import Metrics
from zentrale.recording.store import RecordingStore
from zentrale.telephony.journal import Journal


class CountingJournal(Journal):
    """`Journal` that feeds `Metrics`: active calls and `zentrale_calls_total`."""

    def __init__(
        self, metrics: Metrics, calls: CallStore, recordings: RecordingStore, **options: Any
    ) -> None:
        super().__init__(calls, recordings, **options)
        self.metrics = metrics
        self._active: dict[str, str] = {}

    @property
    def active(self) -> int:
        """Return how many calls arrived and have not ended yet."""
        return len(self._active)

    def arrived(self, call: NewCall) -> None:
        """Record a new call and count it as active."""
        self._active[call.id] = call.direction.value
        super().arrived(call)

    def finished(self, call_id: str, hangup: Hangup) -> None:
        """Record how a call ended and count it by direction and outcome."""
        direction = self._active.pop(call_id, None)
        if direction is not None:
            self.metrics.call_ended(direction, hangup.outcome.value)
        super().finished(call_id, hangup)
