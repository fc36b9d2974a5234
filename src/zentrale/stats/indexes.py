"""Indexes the statistics need on the call tables (migration v0006), declared beside the models.

`ix_calls_stats` holds every column a report reads from a call after its arrival time, so a
month's report scans one index range instead of fetching rows scattered over the table.
`ix_call_events_kind_at` finds the transfer / answer / conversation-end events of a period,
`ix_survey_answers_answered_at` the answers. Importing this module attaches them to the tables'
metadata (zentrale.db.schema imports it, so the migration test compares them too).
"""

from __future__ import annotations

from sqlalchemy import Index

from zentrale.db.models import Call, CallEvent
from zentrale.surveys.models import SurveyAnswer

CALL_COLUMNS = ("arrived_at", "direction", "department", "agent_endpoint", "queued_at",
                "agent_answered_at", "ended_at", "outcome")  # fmt: skip

calls_stats = Index("ix_calls_stats", *(Call.__table__.c[name] for name in CALL_COLUMNS))
events_kind_at = Index(
    "ix_call_events_kind_at", CallEvent.__table__.c.kind, CallEvent.__table__.c.at,
    CallEvent.__table__.c.call_id,
)  # fmt: skip
answers_answered_at = Index(
    "ix_survey_answers_answered_at", SurveyAnswer.__table__.c.answered_at,
    SurveyAnswer.__table__.c.call_id,
)  # fmt: skip
