"""Indexes the statistics need on the call tables (migrations v0006, v0008), declared beside the
models.

`ix_call_events_kind_at` finds the transfer / answer / conversation-end events of a period,
`ix_survey_answers_answered_at` the answers of a period. The calls themselves are read through
`ix_calls_report` (v0008): on PostgreSQL a partial covering index of the offered calls (inbound,
with a department) holding every column the report reads, so a month is an index-only scan
of its own stretch of the index, with no visit to the wide call rows. `ix_calls_overflows`
finds the few calls that overflowed. Survey answers and suggestions are found by the copy of
their call's arrival (v0009): `ix_survey_answers_call_arrived_at` (on PostgreSQL covering every
column the report reads) and `ix_call_notes_suggestions_arrived_at`; the two `_uncopied`
partial indexes find the rare rows without a copy, whose call is looked up. Importing
this module attaches them to the tables' metadata (zentrale.migrations.schema imports it, so the
migration test compares them too).
"""

from __future__ import annotations

from sqlalchemy import Index, text

from zentrale.calls.models import Call, CallEvent
from zentrale.customers.models import CallNote
from zentrale.surveys.models import SurveyAnswer

events_kind_at = Index(
    "ix_call_events_kind_at",
    CallEvent.__table__.c.kind,
    CallEvent.__table__.c.at,
    CallEvent.__table__.c.call_id,
)
answers_answered_at = Index(
    "ix_survey_answers_answered_at",
    SurveyAnswer.__table__.c.answered_at,
    SurveyAnswer.__table__.c.call_id,
)

REPORT_COLUMNS = [
    "department",
    "queued_at",
    "agent_answered_at",
    "ended_at",
    "outcome",
    "handle_seconds",
    "conversations",
    "transfers",
]
REPORT_WHERE = "direction = 'inbound' AND department IS NOT NULL"
OVERFLOW_WHERE = "direction = 'inbound' AND overflows > 0"
calls_report = Index(
    "ix_calls_report",
    Call.__table__.c.arrived_at,
    postgresql_include=REPORT_COLUMNS,
    postgresql_where=text(REPORT_WHERE),
    sqlite_where=text(REPORT_WHERE),
)
calls_overflows = Index(
    "ix_calls_overflows",
    Call.__table__.c.arrived_at,
    postgresql_include=["overflowed_from", "overflows", "id"],
    postgresql_where=text(OVERFLOW_WHERE),
    sqlite_where=text(OVERFLOW_WHERE),
)

ANSWER_COLUMNS = ["answered_at", "department", "agent_endpoint", "scale", "status", "answer"]
SUGGESTION_COLUMNS = ["created_at", "department", "call_id"]
SUGGESTION_WHERE = "kind = 'suggestion'"
UNCOPIED = "call_arrived_at IS NULL"
answers_call_arrived_at = Index(
    "ix_survey_answers_call_arrived_at",
    SurveyAnswer.__table__.c.call_arrived_at,
    postgresql_include=ANSWER_COLUMNS,
)
answers_uncopied = Index(
    "ix_survey_answers_uncopied",
    SurveyAnswer.__table__.c.answered_at,
    postgresql_where=text(UNCOPIED),
    sqlite_where=text(UNCOPIED),
)
suggestions_arrived_at = Index(
    "ix_call_notes_suggestions_arrived_at",
    CallNote.__table__.c.call_arrived_at,
    postgresql_include=SUGGESTION_COLUMNS,
    postgresql_where=text(SUGGESTION_WHERE),
    sqlite_where=text(SUGGESTION_WHERE),
)
notes_uncopied = Index(
    "ix_call_notes_uncopied",
    CallNote.__table__.c.created_at,
    postgresql_where=text(UNCOPIED),
    sqlite_where=text(UNCOPIED),
)
