"""Call histories written straight to the tables, as the call flows would have written them.

Tests check the statistics against hand-computed figures on small histories; the benchmark
and the dashboard's browser test load generated ones. A `Story` says what happened to one
inbound call; `rows_of` turns it into the call row, its timeline events, survey answers and
suggestions, with the same fields and event details the call flows (`telephony/inbound.py`) use.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from zentrale.calls.models import Call, CallEvent, Direction, EventKind, Outcome
from zentrale.customers.models import CallNote, NoteKind
from zentrale.db.session import Database
from zentrale.surveys.models import AnswerStatus, SurveyAnswer

Event = tuple[dt.datetime, EventKind, dict[str, Any]]


@dataclass(frozen=True)
class Answer:
    """One survey question put to the caller after the conversation."""

    scale: str
    status: AnswerStatus
    answer: int | None = None


@dataclass(frozen=True, kw_only=True)
class Story:
    """What happened to one inbound call; times are seconds after its arrival."""

    id: str
    arrived_at: dt.datetime
    department: str | None
    outcome: Outcome
    queued: float | None = 0.0
    agent: str | None = None
    answered: float | None = None
    conversation_end: float | None = None
    ended: float | None = None
    transfers: int = 0
    overflow_from: str | None = None
    answers: Sequence[Answer] = ()
    suggestions: int = 0

    def at(self, seconds: float) -> dt.datetime:
        """Return the instant SECONDS after arrival."""
        return self.arrived_at + dt.timedelta(seconds=seconds)


@dataclass
class Rows:
    """Rows for the calls, call_events, survey_answers and call_notes tables."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def rows_of(stories: Iterable[Story]) -> Rows:
    """Return the table rows of STORIES."""
    rows = Rows()
    for story in stories:
        _add(rows, story)
    return rows


def _add(rows: Rows, story: Story) -> None:
    events = _events(story)
    ended = story.at(story.ended) if story.ended is not None else None
    rows.calls.append(
        {
            "id": story.id,
            "direction": Direction.INBOUND,
            "caller_number": "+905550000000",
            "department": story.department,
            "agent_endpoint": story.agent,
            "agent_name": story.agent.split("/")[-1] if story.agent else None,
            "arrived_at": story.arrived_at,
            "queued_at": story.at(story.queued) if story.queued is not None else None,
            "agent_answered_at": story.at(story.answered) if story.answered is not None else None,
            "ended_at": ended,
            "outcome": story.outcome,
            "last_event_seq": len(events),
            **figures(story.arrived_at, events),
        }
    )
    for seq, (at, kind, detail) in enumerate(events, 1):
        rows.events.append(
            {"call_id": story.id, "seq": seq, "at": at, "kind": kind, "detail": detail}
        )
    after = ended or story.arrived_at
    for position, answer in enumerate(story.answers, 1):
        rows.answers.append(
            {
                "id": str(uuid.uuid4()),
                "call_id": story.id,
                "survey": "after-call",
                "question": f"q{position}",
                "position": position,
                "answer": answer.answer,
                "status": answer.status,
                "scale": answer.scale,
                "department": story.department,
                "agent_endpoint": story.agent,
                "answered_at": after,
                "call_arrived_at": story.arrived_at,
            }
        )
    for _ in range(story.suggestions):
        rows.notes.append(
            {
                "id": str(uuid.uuid4()),
                "call_id": story.id,
                "kind": NoteKind.SUGGESTION,
                "text": "idea",
                "author_name": "agent",
                "department": story.department,
                "created_at": after,
                "call_arrived_at": story.arrived_at,
            }
        )


def _events(story: Story) -> list[Event]:
    events: list[Event] = [(story.arrived_at, EventKind.ARRIVED, {})]
    if story.overflow_from is not None:
        detail = {"overflow": story.overflow_from, "reason": "max_wait"}
        events.append((story.at(max((story.queued or 0.0) - 1, 0.0)), EventKind.TRANSFER, detail))
    if story.queued is not None and story.department is not None:
        events.append((story.at(story.queued), EventKind.QUEUED, {"department": story.department}))
    if story.answered is not None and story.agent is not None:
        agent = {"agent": story.agent}
        events.append((story.at(story.answered), EventKind.AGENT_ANSWERED, agent))
        if story.conversation_end is not None:
            end = story.at(story.conversation_end)
            events.append((end, EventKind.CONVERSATION_ENDED, agent))
    for n in range(story.transfers):
        moved = story.conversation_end if story.conversation_end is not None else 0.0
        events.append((story.at(moved), EventKind.TRANSFER, {"to": f"department:other{n}"}))
    if story.ended is not None:
        events.append((story.at(story.ended), EventKind.HANGUP, {"state": "done"}))
    return events


def figures(arrived_at: dt.datetime, events: Iterable[Event]) -> dict[str, Any]:
    """Return the call row's timeline figures as `zentrale.calls.store.append_event` keeps them."""
    found: dict[str, Any] = {
        "handle_seconds": 0.0,
        "conversations": 0,
        "transfers": 0,
        "overflows": 0,
        "overflowed_from": None,
    }
    sources: set[Any] = set()
    for at, kind, detail in events:
        since = (at - arrived_at).total_seconds()
        if kind is EventKind.AGENT_ANSWERED:
            found["handle_seconds"] -= since
        elif kind is EventKind.CONVERSATION_ENDED:
            found["handle_seconds"] += since
            found["conversations"] += 1
        elif kind is EventKind.TRANSFER:
            found["transfers"] += detail.get("to") is not None
            if detail.get("overflow") is not None:
                found["overflows"] += 1
                sources.add(detail["overflow"])
    if len(sources) == 1 and isinstance(source := next(iter(sources)), str) and len(source) <= 128:
        found["overflowed_from"] = source
    return found


async def insert_rows(db: Database, rows: Rows) -> None:
    """Write ROWS in one transaction."""
    async with db.write() as session:
        for model, values in (
            (Call, rows.calls),
            (CallEvent, rows.events),
            (SurveyAnswer, rows.answers),
            (CallNote, rows.notes),
        ):
            if values:
                await session.execute(insert(model), values)
