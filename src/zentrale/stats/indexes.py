"""Indexes the statistics need on the call tables (migration v0006), declared beside the models.

`ix_call_events_kind_at` finds the transfer / answer / conversation-end events of a period,
`ix_survey_answers_answered_at` the answers of a period. The calls themselves are read through
`ix_calls_arrived_at`: rows are written as calls arrive, so a month is one stretch of the
table (a covering index of the report's call columns was tried and not chosen by PostgreSQL's
planner; it would only slow down the journal's many updates of each call row). Importing
this module attaches them to the tables' metadata (zentrale.db.schema imports it, so the
migration test compares them too).
"""

from __future__ import annotations

from sqlalchemy import Index

from zentrale.db.models import CallEvent
from zentrale.surveys.models import SurveyAnswer

events_kind_at = Index(
    "ix_call_events_kind_at", CallEvent.__table__.c.kind, CallEvent.__table__.c.at,
    CallEvent.__table__.c.call_id,
)  # fmt: skip
answers_answered_at = Index(
    "ix_survey_answers_answered_at", SurveyAnswer.__table__.c.answered_at,
    SurveyAnswer.__table__.c.call_id,
)  # fmt: skip
