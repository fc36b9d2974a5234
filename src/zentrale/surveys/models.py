"""Survey answers on zentrale's metadata (migration v0004).

One row per question put to a caller, whether after an inbound call or in an outbound
campaign: the digit pressed (`answer`), or why there is none (`status`). Rows carry the
department, agent and recording of the call they follow, so statistics need no joins.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.models import ID, NAME, Base, _label


class AnswerStatus(enum.StrEnum):
    """Whether a question got an answer, went unanswered (timeout) or the caller hung up."""

    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    ABANDONED = "abandoned"


class SurveyAnswer(Base):
    """One question of one survey put to one caller."""

    __tablename__ = "survey_answers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    survey: Mapped[str] = mapped_column(NAME)
    question: Mapped[str] = mapped_column(NAME)
    position: Mapped[int] = mapped_column(Integer)
    answer: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[AnswerStatus] = mapped_column(_label(AnswerStatus))
    scale: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(NAME)
    agent_endpoint: Mapped[str | None] = mapped_column(NAME)
    recording_id: Mapped[str | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL")
    )
    campaign_id: Mapped[str | None] = mapped_column(ID)
    answered_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_survey_answers_call_id", "call_id"),
        Index("ix_survey_answers_department_answered_at", "department", "answered_at"),
        Index("ix_survey_answers_survey_answered_at", "survey", "answered_at"),
    )
