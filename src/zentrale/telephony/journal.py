"""The call journal: what the call flows write about calls, kept in order, never blocking a call.

A call flow must not wait on the database, nor lose a record when the database blips: each
write is stamped with its time when the flow makes it, queued, and applied in order by one
writer task that retries with backoff until the database takes it. `flush()` waits until
everything queued so far is written (tests, graceful shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from zentrale.base.clock import utcnow
from zentrale.base.outage import Outage
from zentrale.calls.models import Call, EventKind
from zentrale.calls.store import CallStore, CallUpdate, Hangup, NewCall
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.surveys.answers import AnswerStore, NewAnswer

log = structlog.get_logger(__name__)

Write = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class _Pending:
    what: str
    write: Write


class Journal:
    """Ordered, retried, non-blocking writes of call records, timelines and recordings."""

    def __init__(
        self,
        calls: CallStore,
        recordings: RecordingStore,
        *,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        answers: AnswerStore | None = None,
    ) -> None:
        self._calls = calls
        self._recordings = recordings
        self._outage = Outage("journal.database", log)
        self._answers = answers
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        # Retries at most 5 s apart: call rows land within 5 s of the database's return
        # (at 30 s a 30 s outage left them missing for up to 30 s more); one failed
        # connect every 5 s costs the database nothing.
        self._retry = (retry_initial, retry_max)
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        """Write attempts that failed (and were retried), for metrics."""

    @property
    def backlog(self) -> int:
        """Return how many writes wait for the database."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-journal")

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def flush(self) -> None:
        """Wait until every write queued so far is in the database."""
        await self._queue.join()

    async def known(self, call_id: str) -> Call | None:
        """Return the call's row as stored (None if unknown or the database is away).

        A restarted daemon reads what it wrote before (agent, department) to adopt a call.
        """
        try:
            return await self._calls.get(call_id)
        except Exception as exc:  # not written yet, or the database away: adopt without it
            log.warning("journal.call_unknown", call_id=call_id, error=type(exc).__name__)
            return None

    def arrived(self, call: NewCall) -> None:
        """Record a new call."""
        self._put("create", lambda: self._calls.create(call))

    def update(self, call_id: str, changes: CallUpdate) -> None:
        """Record facts learned about a call."""
        self._put("update", lambda: self._calls.update(call_id, changes))

    def event(
        self,
        call_id: str,
        kind: EventKind,
        detail: Mapping[str, Any] | None = None,
        *,
        sensitive: bool = False,
    ) -> None:
        """Append to a call's timeline (digits of a sensitive entry are masked by the store)."""
        at = utcnow()
        self._put(
            str(kind),
            lambda: self._calls.add_event(call_id, kind, detail, sensitive=sensitive, at=at),
        )

    def recording_finished(self, finished: FinishedRecording) -> None:
        """Hand a finished recording to the pipeline (recording row and job, one transaction)."""
        self._put("recording", lambda: self._recordings.recording_finished(finished))

    def survey_answer(self, answer: NewAnswer) -> None:
        """Record one survey question put to a caller (a journal without answer store: log)."""
        answers = self._answers
        if answers is None:
            log.warning("journal.no_answer_store", survey=answer.survey)
            return
        self._put("survey", lambda: answers.record(answer))

    def finished(self, call_id: str, hangup: Hangup) -> None:
        """Record how a call ended."""
        self._put("finish", lambda: self._calls.finish(call_id, hangup))

    def _put(self, what: str, write: Write) -> None:
        self._queue.put_nowait(_Pending(what, write))

    async def _run(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            finally:
                self._queue.task_done()

    async def _write(self, pending: _Pending) -> None:
        delay, longest = self._retry
        while True:
            try:
                await pending.write()
            except Exception as exc:  # any database failure is retried, never dropped
                self.failures += 1
                self._outage.failed(exc, what=pending.what, backlog=self.backlog)
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)
            else:
                self._outage.ok()
                return
