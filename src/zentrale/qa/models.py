"""The QA reviews' tables: evaluations against scorecards, time-pinned comments, tags.

Created by migration `v0002_qa` with the search indexes on `recordings` declared here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

import zentrale.recording.models  # noqa: F401  (the recordings table the indexes are on)
from zentrale.db.base import ID, NAME, Base


class Evaluation(Base):
    """One scorecard filled in for one recording."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    scorecard: Mapped[str] = mapped_column(NAME)
    scorecard_version: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float)
    auto_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    evaluator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    evaluator_name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(ID)

    __table_args__ = (
        Index("ix_evaluations_recording_id_created_at", "recording_id", "created_at"),
        Index("ix_evaluations_score_recording_id", "score", "recording_id"),
    )


class Comment(Base):
    """A reviewer's remark pinned to a moment of a recording."""

    __tablename__ = "comments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    offset_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    author_name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_comments_recording_id_offset_s", "recording_id", "offset_s"),)


class RecordingTag(Base):
    """A tag on a recording (free text, lower case)."""

    __tablename__ = "recording_tags"

    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_by: Mapped[str] = mapped_column(ID)
    added_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_recording_tags_tag_recording_id", "tag", "recording_id"),)


# Search indexes on the core `recordings` table (created by v0002; declared here so the
# models match the migration): newest-first across all departments, and by duration.
_recordings = Base.metadata.tables["recordings"]


QA_RECORDING_INDEXES = (
    Index("ix_recordings_created_at_id", _recordings.c.created_at, _recordings.c.id),
    Index("ix_recordings_duration_s_id", _recordings.c.duration_s, _recordings.c.id),
)
