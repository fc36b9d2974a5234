"""The call journal: what the call flows write about calls, kept in order, never blocking a call.

A call flow must not wait on the database, nor lose a record when the database blips: each
write is stamped with its time when the flow makes it, queued, and applied in order by one
writer task that retries with backoff until the database takes it. `flush()` waits until
everything queued so far is written (tests, graceful shutdown).

The writer gathers what the flows queued within `batch_window` seconds (at most `batch_max`
writes) and applies it in one transaction: the timeline rows go in as one statement, and a
call's row changes and timeline events are merged into one statement on its row (numbering the
events) while no write that reads the row comes between them. A transaction costs more than
the statements in it (docs/performance.md measured ~3 ms each on SQLite), so at a few calls
per second this takes most of the journal's CPU away. If a batch fails (the database away, or
one bad write), its writes are retried one by one as before, each in its own transaction, so a
bad write holds up only what comes after it, as it always did.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.clock import Clock, utcnow
from zentrale.base.outage import Outage
from zentrale.calls.models import Call, EventKind
from zentrale.calls.store import (
    CallStore,
    CallUpdate,
    Hangup,
    NewCall,
    NewEvent,
    TimelineRows,
    append_events,
    clean_detail,
    finish_values,
    insert_call_with_events,
    new_call_values,
    update_call,
)
from zentrale.recording.store import FinishedRecording, RecordingStore
from zentrale.surveys.answers import AnswerStore, NewAnswer

log = structlog.get_logger(__name__)

Write = Callable[[AsyncSession, TimelineRows], Awaitable[object]]


@dataclass
class _Pending:
    """One queued write: a call row's values (`row`, inserted if `new`), a timeline `event`,
    or a `write`."""

    what: str
    call_id: str = ""
    row: dict[str, Any] | None = None
    new: bool = False
    event: NewEvent | None = None
    write: Write | None = None


@dataclass
class _Merged:
    """One call's row values and timeline events merged from consecutive writes of a batch."""

    call_id: str
    row: dict[str, Any] = field(default_factory=dict)
    new: bool = False
    events: list[NewEvent] = field(default_factory=list)


def _merge(batch: list[_Pending]) -> list[_Pending | _Merged]:
    """Return BATCH with each call's row writes and timeline events merged into one step
    while no write that reads the call's row comes between them.

    Row writes and events commute: an event reads only the row's arrival (which no row write
    sets) and changes only its counter and figures (which no row write sets). A recording or
    survey answer reads the row, so it ends the merging; a call's new row starts it.
    """
    steps: list[_Pending | _Merged] = []
    open_calls: dict[str, _Merged] = {}
    for pending in batch:
        if pending.row is None and pending.event is None:
            if pending.what in _READS_ROW:
                open_calls.pop(pending.call_id, None)
            steps.append(pending)
            continue
        merged = open_calls.get(pending.call_id)
        if merged is None or pending.new:
            merged = open_calls[pending.call_id] = _Merged(pending.call_id, new=pending.new)
            steps.append(merged)
        if pending.row is not None:
            merged.row.update(pending.row)
        if pending.event is not None:
            merged.events.append(pending.event)
    return steps


_READS_ROW = frozenset({"recording", "survey"})
_ARRIVALS_KEPT = 10_000


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
        batch_window: float = 0.1,
        batch_max: int = 500,
        clock: Clock = utcnow,
    ) -> None:
        self._calls = calls
        self._clock = clock
        # Calls' arrival times, so a conversation's seconds go into the statement that numbers
        # its events (else a second one reads the arrival first); bounded by _ARRIVALS_KEPT.
        self._arrivals: dict[str, dt.datetime] = {}
        self._db = calls.database
        # 0.1 s: a call's burst of writes (arrival, answer, menu) lands in one transaction,
        # and nothing waits for the journal: a killed daemon loses at most this much more.
        self._batch = (batch_window, batch_max)
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
        self._put(_Pending("create", call.id, row=new_call_values(call), new=True))

    def update(self, call_id: str, changes: CallUpdate) -> None:
        """Record facts learned about a call."""
        if values := changes.values():
            self._put(_Pending("update", call_id, row=values))

    def event(
        self,
        call_id: str,
        kind: EventKind,
        detail: Mapping[str, Any] | None = None,
        *,
        sensitive: bool = False,
    ) -> None:
        """Append to a call's timeline (digits of a sensitive entry are masked at once).

        A detail too large to store is replaced by the reason, and the event is kept.
        """
        at = self._clock()
        try:
            clean = clean_detail(detail or {}, sensitive)
        except ValueError as exc:
            log.error(
                "journal.event_detail_dropped", call_id=call_id, kind=str(kind), error=str(exc)
            )
            clean = {"dropped": str(exc)}
        self._put(_Pending(str(kind), call_id, event=NewEvent(EventKind(kind), clean, at)))

    def recording_finished(self, finished: FinishedRecording) -> None:
        """Hand a finished recording to the pipeline (recording row and job, one transaction)."""
        recordings = self._recordings

        async def write(session: AsyncSession, later: TimelineRows) -> object:
            return await recordings.recording_finished_in(session, finished, later)

        self._put(_Pending("recording", finished.call_id, write=write))

    def survey_answer(self, answer: NewAnswer) -> None:
        """Record one survey question put to a caller (a journal without answer store: log)."""
        answers = self._answers
        if answers is None:
            log.warning("journal.no_answer_store", survey=answer.survey)
            return

        async def write(session: AsyncSession, _later: TimelineRows) -> None:
            await answers.record_in(session, answer)

        self._put(_Pending("survey", answer.call_id, write=write))

    def finished(self, call_id: str, hangup: Hangup) -> None:
        """Record how a call ended."""
        self._put(_Pending("finish", call_id, row=finish_values(hangup)))

    def write(self, what: str, write: Write) -> None:
        """Queue WRITE (any other record, e.g. the agent state log) in order with the calls'."""
        self._put(_Pending(what, write=write))

    def _put(self, pending: _Pending) -> None:
        self._queue.put_nowait(pending)

    async def _run(self) -> None:
        window, most = self._batch
        while True:
            batch = [await self._queue.get()]
            try:
                if window > 0:
                    await asyncio.sleep(window)
                while len(batch) < most and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._write_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            await self._apply(_merge(batch))
        except Exception as exc:  # the database away, or one bad write: one by one, retried
            self.failures += 1
            self._outage.failed(exc, what=f"batch of {len(batch)}", backlog=self.backlog)
            for pending in batch:
                await self._write(pending)
        else:
            self._outage.ok()

    async def _apply(self, steps: list[_Pending | _Merged]) -> None:
        """Apply STEPS in order in one transaction."""
        later = TimelineRows()
        async with self._db.write() as session:
            for step in steps:
                if isinstance(step, _Merged):
                    await self._write_call(session, step, later)
                elif step.write is not None:
                    await step.write(session, later)
            await later.insert(session)

    async def _write_call(self, session: AsyncSession, step: _Merged, later: TimelineRows) -> None:
        """Write one call's merged row values and events: one statement, or two when the
        call's arrival is not known here and its events end a conversation."""
        arrivals, call_id = self._arrivals, step.call_id
        if step.new:
            await insert_call_with_events(session, step.row, step.events, later)
            arrival = step.row["arrived_at"]
        elif step.events:
            known = arrivals.get(call_id)
            facts = await append_events(
                session, call_id, step.events, later, values=step.row, arrived_at=known
            )
            arrival = facts.arrived_at
        else:
            await update_call(session, call_id, step.row)
            return
        if "ended_at" in step.row:
            arrivals.pop(call_id, None)
            return
        arrivals[call_id] = arrival
        if len(arrivals) > _ARRIVALS_KEPT:
            del arrivals[next(iter(arrivals))]

    async def _write(self, pending: _Pending) -> None:
        delay, longest = self._retry
        while True:
            try:
                await self._apply(_merge([pending]))
            except Exception as exc:  # any database failure is retried, never dropped
                self.failures += 1
                self._outage.failed(exc, what=pending.what, backlog=self.backlog)
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)
            else:
                self._outage.ok()
                return
