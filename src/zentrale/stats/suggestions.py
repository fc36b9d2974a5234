"""The suggestions report: what agents passed on to management at wrap-up, by period and
department.

Reads the `call_notes` of kind suggestion written at wrap-up (or on a customer's page) of the
calls that arrived within a report's local days (like the report's `suggestions` count; a note
without the copy of its call's arrival counts by its own time), in the reader's scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.customers.models import CallNote, NoteKind
from zentrale.stats.spec import ReportSpec

LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggestion for management."""

    at: dt.datetime
    department: str | None
    call_id: str
    agent: str
    text: str


def bounds(spec: ReportSpec) -> tuple[dt.datetime, dt.datetime]:
    """Return SPEC's local days as [start, end) in aware times."""
    start = dt.datetime.combine(spec.first_day, dt.time(), spec.zone)
    end = dt.datetime.combine(spec.last_day + dt.timedelta(days=1), dt.time(), spec.zone)
    return start, end


async def suggestions(
    session: AsyncSession, spec: ReportSpec, department: str | None = None
) -> list[Suggestion]:
    """Return the suggestions of SPEC's days (and scope; one DEPARTMENT if given), newest first."""
    start, end = bounds(spec)
    arrived = func.coalesce(CallNote.call_arrived_at, CallNote.created_at)
    query = select(CallNote).where(
        CallNote.kind == NoteKind.SUGGESTION, arrived >= start, arrived < end
    )
    if spec.departments is not None:
        query = query.where(CallNote.department.in_(spec.departments))
    if department is not None:
        query = query.where(CallNote.department == department)
    rows = await session.scalars(
        query.order_by(CallNote.created_at.desc(), CallNote.id).limit(LIMIT)
    )
    return [
        Suggestion(row.created_at, row.department, row.call_id, row.author_name, row.text)
        for row in rows
    ]
