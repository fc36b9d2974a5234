"""`AnswerStore`: survey answers into `survey_answers`, one row per question put to a caller.

Rows are written through the call journal (after the call's own rows, in order, retried), so
the call they belong to exists. What the flow did not say (department, agent, recording) is
taken from the call row and the call's latest recording when the row is written: after an
inbound call that is the conversation just ended, the department and the agent who took it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.models import Call
from zentrale.db.session import Database
from zentrale.recording.models import Recording
from zentrale.surveys.models import AnswerStatus, SurveyAnswer


@dataclass(frozen=True, slots=True)
class NewAnswer:
    """One question put to a caller and what came of it."""

    call_id: str
    survey: str
    question: str
    position: int
    answer: int | None
    status: AnswerStatus
    scale: str
    answered_at: dt.datetime
    campaign_id: str | None = None


class AnswerStore:
    """Survey answers."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, answer: NewAnswer) -> None:
        """Write ANSWER linked to its call's department, agent and latest recording."""
        async with self._db.write() as session:
            await self.record_in(session, answer)

    async def record_in(self, session: AsyncSession, answer: NewAnswer) -> None:
        """Do `record`'s write inside SESSION's transaction (the journal's)."""
        # populate_existing: the journal's transaction may have changed the row since loaded
        call = await session.get(Call, answer.call_id, populate_existing=True)
        recording = await session.scalar(
            select(Recording.id)
            .where(Recording.call_id == answer.call_id)
            .order_by(Recording.created_at.desc())
            .limit(1)
        )
        session.add(
            SurveyAnswer(
                id=str(uuid.uuid4()),
                call_id=answer.call_id,
                survey=answer.survey,
                question=answer.question,
                position=answer.position,
                answer=answer.answer,
                status=answer.status,
                scale=answer.scale,
                department=call.department if call else None,
                agent_endpoint=call.agent_endpoint if call else None,
                recording_id=recording,
                campaign_id=answer.campaign_id,
                answered_at=answer.answered_at,
                call_arrived_at=call.arrived_at if call else None,
            )
        )
        await session.flush()

    async def for_call(self, call_id: str) -> list[SurveyAnswer]:
        """Return a call's answers in question order."""
        query = (
            select(SurveyAnswer)
            .where(SurveyAnswer.call_id == call_id)
            .order_by(SurveyAnswer.answered_at, SurveyAnswer.position)
        )
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def for_campaign(self, campaign_id: str) -> list[SurveyAnswer]:
        """Return a campaign's answers, oldest first."""
        query = (
            select(SurveyAnswer)
            .where(SurveyAnswer.campaign_id == campaign_id)
            .order_by(SurveyAnswer.answered_at, SurveyAnswer.position)
        )
        async with self._db.read() as session:
            return list(await session.scalars(query))
