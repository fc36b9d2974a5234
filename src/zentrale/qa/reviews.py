"""Reviews of recordings: evaluations against scorecards, time-pinned comments and tags.

Every function takes the caller's session so the change and its audit entry commit together.
Reads are limited to recordings in the user's scope (`visible`): an id outside it is
answered exactly like an unknown id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.errors import ForbiddenError
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.qa.errors import EvaluationNotFoundError, ScorecardNotFoundError
from zentrale.qa.models import Comment, Evaluation, RecordingTag
from zentrale.qa.scorecards import Scorecards, score
from zentrale.recording.errors import RecordingNotFoundError
from zentrale.recording.models import Recording


async def visible(session: AsyncSession, principal: Principal, recording_id: str) -> Recording:
    """Return the recording if it exists and is in the user's scope; else RecordingNotFoundError."""
    recording = await session.get(Recording, recording_id)
    if recording is None or not principal.can_see(recording):
        raise RecordingNotFoundError(recording_id, f"no recording {recording_id!r}")
    return recording


async def evaluate(
    session: AsyncSession,
    principal: Principal,
    recording: Recording,
    scorecards: Scorecards,
    answers: Mapping[str, Any],
    note: str | None,
    now: dt.datetime,
) -> Evaluation:
    """Score ANSWERS with the recording's department scorecard and store the evaluation."""
    found = scorecards.for_department(recording.department)
    if found is None:
        raise ScorecardNotFoundError(f"no scorecard for department {recording.department!r}")
    name, card = found
    verdict = score(card, answers)
    evaluation = Evaluation(
        id=str(uuid.uuid4()),
        recording_id=recording.id,
        scorecard=name,
        scorecard_version=card.version(),
        answers=dict(answers),
        score=verdict.score,
        auto_failed=verdict.auto_failed,
        passed=verdict.passed,
        note=note,
        evaluator_id=principal.user_id,
        evaluator_name=principal.display_name,
        created_at=now,
        acknowledged_at=None,
        acknowledged_by=None,
    )
    session.add(evaluation)
    await session.flush()
    return evaluation


async def evaluations(session: AsyncSession, recording_id: str) -> list[Evaluation]:
    """Return the recording's evaluations, oldest first."""
    query = select(Evaluation).where(Evaluation.recording_id == recording_id)
    return list(await session.scalars(query.order_by(Evaluation.created_at)))


async def acknowledge(
    session: AsyncSession, principal: Principal, evaluation_id: str, now: dt.datetime
) -> Evaluation:
    """Mark an evaluation of the agent's own call as read by them."""
    evaluation = await session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise EvaluationNotFoundError(f"no evaluation {evaluation_id!r}")
    recording = await session.get(Recording, evaluation.recording_id)
    if recording is None or not principal.can_see(recording):
        raise EvaluationNotFoundError(f"no evaluation {evaluation_id!r}")
    if principal.role is not Role.AGENT:
        raise ForbiddenError("only the agent of the call acknowledges an evaluation")
    if evaluation.acknowledged_at is None:
        evaluation.acknowledged_at, evaluation.acknowledged_by = now, principal.user_id
    await session.flush()
    return evaluation


async def add_comment(
    session: AsyncSession,
    principal: Principal,
    recording: Recording,
    offset_s: float,
    text: str,
    now: dt.datetime,
) -> Comment:
    """Pin a comment at OFFSET_S seconds into the recording."""
    comment = Comment(
        id=str(uuid.uuid4()),
        recording_id=recording.id,
        offset_s=offset_s,
        text=text,
        author_id=principal.user_id,
        author_name=principal.display_name,
        created_at=now,
    )
    session.add(comment)
    await session.flush()
    return comment


async def comments(session: AsyncSession, recording_id: str) -> list[Comment]:
    """Return the recording's comments in time order."""
    query = select(Comment).where(Comment.recording_id == recording_id)
    return list(await session.scalars(query.order_by(Comment.offset_s, Comment.created_at)))


async def add_tag(
    session: AsyncSession, principal: Principal, recording: Recording, tag: str, now: dt.datetime
) -> bool:
    """Tag the recording; return False if it had the tag already."""
    if await session.get(RecordingTag, (recording.id, tag)) is not None:
        return False
    session.add(
        RecordingTag(recording_id=recording.id, tag=tag, added_by=principal.user_id, added_at=now)
    )
    await session.flush()
    return True


async def remove_tag(session: AsyncSession, recording: Recording, tag: str) -> bool:
    """Remove the tag; return False if the recording did not have it."""
    statement = delete(RecordingTag).where(
        RecordingTag.recording_id == recording.id, RecordingTag.tag == tag
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def tags(session: AsyncSession, recording_id: str) -> list[str]:
    """Return the recording's tags, sorted."""
    query = select(RecordingTag.tag).where(RecordingTag.recording_id == recording_id)
    return list(await session.scalars(query.order_by(RecordingTag.tag)))
