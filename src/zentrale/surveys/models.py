"""Survey answers and outbound survey campaigns on zentrale's metadata (migration v0004).

One row per question put to a caller, whether after an inbound call or in an outbound
campaign: the digit pressed (`answer`), or why there is none (`status`). Rows carry the
department, agent and recording of the call they follow, so statistics need no joins.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.base import ID, NAME, NUMBER, Base, _label


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
    # A copy of the call's arrived_at, kept by the writers (migration v0009): the statistics
    # find a period's answers by it without looking up each call (zentrale.stats.indexes).
    call_arrived_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_survey_answers_call_id", "call_id"),
        Index("ix_survey_answers_department_answered_at", "department", "answered_at"),
        Index("ix_survey_answers_survey_answered_at", "survey", "answered_at"),
    )


class CampaignState(enum.StrEnum):
    """Where an outbound campaign stands: created, running, halted, or every number done."""

    DRAFT = "draft"
    ACTIVE = "active"
    STOPPED = "stopped"
    FINISHED = "finished"


class TargetState(enum.StrEnum):
    """Where one number of a campaign stands."""

    PENDING = "pending"
    CALLING = "calling"
    RETRY = "retry"
    DONE = "done"
    """Answered: never called again."""
    EXHAUSTED = "exhausted"
    """Not reached after every retry, or a cause saying calling again cannot help."""
    FAILED = "failed"
    """An error of zentrale (not of the line) ended its attempt: never called again; the
    target's `last_reason` says which."""


class AttemptResult(enum.StrEnum):
    """How one call to a campaign number went."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """The daemon stopped while the number rang (found at the next start)."""
    ERROR = "error"
    """zentrale failed (a bug, an unexpected ARI answer), not the line: see the reason."""


class Campaign(Base):
    """An outbound survey campaign: which survey, when and how hard to call."""

    __tablename__ = "survey_campaigns"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    survey: Mapped[str] = mapped_column(NAME)
    state: Mapped[CampaignState] = mapped_column(_label(CampaignState))
    window_from: Mapped[str] = mapped_column(String(5))
    window_to: Mapped[str] = mapped_column(String(5))
    days: Mapped[str] = mapped_column(String(32))
    concurrency: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    retry_after_s: Mapped[int] = mapped_column(Integer)
    ring_s: Mapped[int] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class CampaignTarget(Base):
    """One number of a campaign, its state and when it may be called next."""

    __tablename__ = "campaign_targets"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("survey_campaigns.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(NUMBER)
    state: Mapped[TargetState] = mapped_column(_label(TargetState))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime | None]
    last_result: Mapped[AttemptResult | None] = mapped_column(_label(AttemptResult))
    last_call_id: Mapped[str | None] = mapped_column(String(64))
    last_cause_code: Mapped[int | None] = mapped_column(Integer)
    """The Q.850 cause of the last attempt's end (migration v0013), e.g. 17 for SIP 486."""
    last_cause_text: Mapped[str | None] = mapped_column(String(64))
    last_reason: Mapped[str | None] = mapped_column(String(300))
    """Why the last attempt failed on zentrale's side (an error), or why it was not dialled."""
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index("ix_campaign_targets_campaign_id_state", "campaign_id", "state", "line"),
        Index("ix_campaign_targets_campaign_id_next_attempt_at", "campaign_id", "next_attempt_at"),
    )


class CampaignAttempt(Base):
    """One call placed to a campaign number and how it went."""

    __tablename__ = "campaign_attempts"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("survey_campaigns.id", ondelete="CASCADE"))
    target_id: Mapped[str] = mapped_column(ForeignKey("campaign_targets.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    result: Mapped[AttemptResult | None] = mapped_column(_label(AttemptResult))
    cause_code: Mapped[int | None] = mapped_column(Integer)
    """The Q.850 cause the call ended with (migration v0013)."""
    cause_text: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_campaign_attempts_target_id", "target_id"),)
