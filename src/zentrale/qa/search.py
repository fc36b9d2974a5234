"""Recording search: filters, the user's scope, sorting and keyset pagination.

The query is built once from a validated `SearchQuery`; every value goes in as a bound
parameter. Pages are cut by keyset (`(sort key, id)` strictly after the cursor), so page 1000
costs what page 1 costs; the cursor is opaque base64 JSON. Indexes for the common paths are
created by migration v0002 (see docs/qa.md for the plans on PostgreSQL).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.clock import ClientTime, in_utc
from zentrale.base.errors import InvalidRequestError
from zentrale.base.text import NO_NUL
from zentrale.calls.models import Call, CallEvent, Direction, EventKind
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.qa.models import Evaluation, RecordingTag
from zentrale.recording.models import Recording

Sort = Literal["-created_at", "created_at", "-duration", "duration"]
TAG_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class SearchQuery(BaseModel):
    """Filters of a recording search (all optional) and the page wanted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: ClientTime | None = None
    until: ClientTime | None = None
    department: str | None = Field(default=None, max_length=128, pattern=NO_NUL)
    agent: str | None = Field(default=None, max_length=128, pattern=NO_NUL)
    direction: Direction | None = None
    caller: str | None = Field(default=None, pattern=r"^\+?[0-9]{1,20}$")
    min_duration: float | None = Field(default=None, ge=0, le=86400)
    max_duration: float | None = Field(default=None, ge=0, le=86400)
    tag: str | None = Field(default=None, pattern=TAG_PATTERN)
    min_score: float | None = Field(default=None, ge=0, le=100)
    max_score: float | None = Field(default=None, ge=0, le=100)
    survey_min: int | None = Field(default=None, ge=0, le=9)
    survey_max: int | None = Field(default=None, ge=0, le=9)
    min_overtalk_pct: float | None = Field(default=None, ge=0, le=100)
    """Both parties talking at once for at least this share of the recording (percent)."""
    min_dead_air: float | None = Field(default=None, ge=0, le=86400)
    """A stretch of silence (neither party talking) of at least this many seconds."""
    min_agent_talk_pct: float | None = Field(default=None, ge=0, le=100)
    max_agent_talk_pct: float | None = Field(default=None, ge=0, le=100)
    """The agent's share of all talk, in percent (from the two channels)."""
    sort: Sort = "-created_at"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


@dataclass(frozen=True, slots=True)
class Hit:
    """One recording found, with its call's direction and caller."""

    recording: Recording
    direction: Direction
    caller_number: str | None
    tags: tuple[str, ...]
    score: float | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of hits and the cursor of the next page (None: this was the last)."""

    hits: list[Hit]
    next_cursor: str | None


def scope_clause(principal: Principal) -> ColumnElement[bool] | None:
    """Return the WHERE clause limiting recordings to the user's scope (None: everything)."""
    if principal.role is Role.ADMIN:
        return None
    if principal.role is Role.AGENT:
        if principal.agent_endpoint is None:
            return false()
        return Recording.agent_endpoint == principal.agent_endpoint
    if not principal.departments:
        return false()
    return Recording.department.in_(list(principal.departments))


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.since is not None:
        found.append(Recording.created_at >= _aware(query.since))
    if query.until is not None:
        found.append(Recording.created_at < _aware(query.until))
    if query.department is not None:
        found.append(Recording.department == query.department)
    if query.agent is not None:
        found.append(Recording.agent_endpoint == query.agent)
    if query.direction is not None:
        found.append(Call.direction == query.direction)
    if query.caller is not None:
        found += _prefix(Call.caller_number, query.caller)
    if query.min_duration is not None:
        found.append(Recording.duration_s >= query.min_duration)
    if query.max_duration is not None:
        found.append(Recording.duration_s <= query.max_duration)
    return found + _talk_filters(query) + _related_filters(query)


def _talk_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    """Filters on the conversation figures; a recording not analysed never matches them."""
    found: list[ColumnElement[bool]] = []
    if query.min_overtalk_pct is not None:
        share = query.min_overtalk_pct / 100
        found.append(Recording.overtalk_s >= Recording.duration_s * share)
    if query.min_dead_air is not None:
        found.append(Recording.longest_dead_air_s >= query.min_dead_air)
    if query.min_agent_talk_pct is not None:
        found.append(Recording.agent_talk_ratio >= query.min_agent_talk_pct / 100)
    if query.max_agent_talk_pct is not None:
        found.append(Recording.agent_talk_ratio <= query.max_agent_talk_pct / 100)
    return found


def _prefix(column: Any, prefix: str) -> list[ColumnElement[bool]]:
    """Match numbers starting with PREFIX; the range lets a btree index answer it in any
    collation (LIKE alone cannot use one outside the C collation)."""
    clauses = [column.startswith(prefix, autoescape=True), column >= prefix]
    stem = prefix.rstrip("9")
    if stem and stem[-1].isdigit():
        clauses.append(column < stem[:-1] + str(int(stem[-1]) + 1))
    return clauses


def _related_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.tag is not None:
        found.append(
            exists().where(RecordingTag.recording_id == Recording.id, RecordingTag.tag == query.tag)
        )
    if query.min_score is not None or query.max_score is not None:
        low, high = query.min_score or 0.0, 100.0 if query.max_score is None else query.max_score
        found.append(
            exists().where(
                Evaluation.recording_id == Recording.id, Evaluation.score.between(low, high)
            )
        )
    if query.survey_min is not None or query.survey_max is not None:
        found.append(
            _survey(query.survey_min or 0, 9 if query.survey_max is None else query.survey_max)
        )
    return found


def _survey(low: int, high: int) -> ColumnElement[bool]:
    answer = CallEvent.detail["answer"].as_integer()
    return exists().where(
        CallEvent.call_id == Recording.call_id,
        CallEvent.kind == EventKind.SURVEY_ANSWER,
        answer.between(low, high),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _sort_column(sort: Sort) -> Any:
    return Recording.duration_s if sort.endswith("duration") else Recording.created_at


def _zoned(value: dt.datetime) -> dt.datetime:
    # Our cursors always carry the offset; a naive time in one was made by hand.
    if value.tzinfo is None:
        raise ValueError("a cursor time without a zone")
    return value


def encode_cursor(sort: Sort, recording: Recording) -> str:
    """Return the opaque cursor pointing after RECORDING in SORT order."""
    value: Any = (
        recording.duration_s if sort.endswith("duration") else recording.created_at.isoformat()
    )
    raw = json.dumps([sort, value, recording.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> tuple[Any, str]:
    """Return (sort value, id) from CURSOR; raise InvalidRequestError if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, recording_id = json.loads(raw)
        if kind != sort or not isinstance(recording_id, str):
            raise ValueError("other sort")
        if sort.endswith("duration"):
            return float(value), recording_id
        return in_utc(_zoned(dt.datetime.fromisoformat(value))), recording_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise InvalidRequestError("the cursor is not valid for this search") from None


def statement(principal: Principal, query: SearchQuery) -> Select[Any]:
    """Return the SELECT for one page (one row more than the limit, to see if more follow)."""
    column = _sort_column(query.sort)
    descending = query.sort.startswith("-")
    result = (
        select(Recording, Call.direction, Call.caller_number)
        .join(Call, Call.id == Recording.call_id)
        .where(*_filters(query))
    )
    if (scope := scope_clause(principal)) is not None:
        result = result.where(scope)
    if query.sort.endswith("duration"):
        result = result.where(Recording.duration_s.is_not(None))
    if query.cursor is not None:
        value, after = decode_cursor(query.sort, query.cursor)
        key, mark = (
            tuple_(column, Recording.id),
            tuple_(bindparam(None, value, column.type), literal(after)),
        )
        result = result.where(key < mark if descending else key > mark)
    order = (column.desc(), Recording.id.desc()) if descending else (column, Recording.id)
    return result.order_by(*order).limit(query.limit + 1)


async def search(session: AsyncSession, principal: Principal, query: SearchQuery) -> Page:
    """Run QUERY in the user's scope and return one page."""
    rows = (await session.execute(statement(principal, query))).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    ids = [row[0].id for row in rows]
    tags, scores = await _tags(session, ids), await _scores(session, ids)
    hits = [
        Hit(
            recording=row[0],
            direction=row[1],
            caller_number=row[2],
            tags=tuple(tags.get(row[0].id, ())),
            score=scores.get(row[0].id),
        )
        for row in rows
    ]
    cursor = encode_cursor(query.sort, rows[-1][0]) if more and rows else None
    return Page(hits, cursor)


async def _tags(session: AsyncSession, ids: Sequence[str]) -> dict[str, list[str]]:
    if not ids:
        return {}
    query = select(RecordingTag.recording_id, RecordingTag.tag).where(
        RecordingTag.recording_id.in_(ids)
    )
    found: dict[str, list[str]] = {}
    for recording_id, tag in (await session.execute(query.order_by(RecordingTag.tag))).all():
        found.setdefault(recording_id, []).append(tag)
    return found


async def _scores(session: AsyncSession, ids: Sequence[str]) -> dict[str, float]:
    """Return the latest evaluation's score per recording."""
    if not ids:
        return {}
    latest = (
        select(Evaluation.recording_id, func.max(Evaluation.created_at).label("at"))
        .where(Evaluation.recording_id.in_(ids))
        .group_by(Evaluation.recording_id)
        .subquery()
    )
    query = select(Evaluation.recording_id, Evaluation.score).join(
        latest,
        and_(
            latest.c.recording_id == Evaluation.recording_id, latest.c.at == Evaluation.created_at
        ),
    )
    return dict((await session.execute(query)).tuples().all())
