"""Call figures: the statistics' per-call timeline figures as columns of `calls`.

`handle_seconds`, `conversations`, `transfers`, `overflows` and `overflowed_from` are kept by
`zentrale.calls.store.append_event` in each event's transaction; this migration adds them, fills
them for the calls already written from their timelines, and adds the two partial indexes the
statistics report reads (see zentrale.stats.indexes and docs/statistics.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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

# Seconds from the call's arrival to an event: exact on PostgreSQL; on SQLite whole seconds
# plus microseconds from the stored text (as zentrale.stats.sql.seconds).
_SINCE_ARRIVAL = {
    "postgresql": "date_part('epoch', e.at - calls.arrived_at)",
    "sqlite": "((CAST(strftime('%s', e.at) AS INTEGER) - CAST(strftime('%s', calls.arrived_at)"
    " AS INTEGER)) + (CAST(substr(e.at, 21, 6) AS INTEGER)"
    " - CAST(substr(calls.arrived_at, 21, 6) AS INTEGER)) / 1000000.0)",
}
_TEXT = {"postgresql": "e.detail ->> '{key}'", "sqlite": "json_extract(e.detail, '$.{key}')"}


def _backfill(dialect: str) -> str:
    since = _SINCE_ARRIVAL[dialect]
    to, overflow = _TEXT[dialect].format(key="to"), _TEXT[dialect].format(key="overflow")
    events = "FROM call_events e WHERE e.call_id = calls.id"
    transfer = "e.kind = 'transfer'"
    return f"""
    UPDATE calls SET
      handle_seconds = coalesce((SELECT sum(CASE WHEN e.kind = 'conversation_ended' THEN {since}
                                              ELSE -{since} END) {events}
                                 AND e.kind IN ('agent_answered', 'conversation_ended')), 0),
      conversations = (SELECT count(*) {events} AND e.kind = 'conversation_ended'),
      transfers = (SELECT count(*) {events} AND {transfer} AND {to} IS NOT NULL),
      overflows = (SELECT count(*) {events} AND {transfer} AND {overflow} IS NOT NULL),
      overflowed_from = (SELECT CASE WHEN count(DISTINCT {overflow}) = 1
                                      AND max(length({overflow})) <= 128 THEN max({overflow}) END
                         {events} AND {transfer} AND {overflow} IS NOT NULL)
    WHERE EXISTS (SELECT 1 {events} AND e.kind IN ('agent_answered', 'conversation_ended',
                                                   'transfer'))
    """  # noqa: S608 - constant fragments only


def upgrade() -> None:
    """Add the columns, fill them from the timelines, create the indexes."""
    with op.batch_alter_table("calls") as batch:
        for name in ("handle_seconds", "conversations", "transfers", "overflows"):
            kind = sa.Float() if name == "handle_seconds" else sa.Integer()
            batch.add_column(sa.Column(name, kind, nullable=False, server_default="0"))
        batch.add_column(sa.Column("overflowed_from", sa.String(128), nullable=True))
    op.execute(_backfill(op.get_bind().dialect.name))
    op.create_index(
        "ix_calls_report",
        "calls",
        ["arrived_at"],
        postgresql_include=REPORT_COLUMNS,
        postgresql_where=sa.text(REPORT_WHERE),
        sqlite_where=sa.text(REPORT_WHERE),
    )
    op.create_index(
        "ix_calls_overflows",
        "calls",
        ["arrived_at"],
        postgresql_include=["overflowed_from", "overflows", "id"],
        postgresql_where=sa.text(OVERFLOW_WHERE),
        sqlite_where=sa.text(OVERFLOW_WHERE),
    )


def downgrade() -> None:
    """Drop the indexes and the columns."""
    op.drop_index("ix_calls_overflows", table_name="calls")
    op.drop_index("ix_calls_report", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        for name in (
            "overflowed_from",
            "overflows",
            "transfers",
            "conversations",
            "handle_seconds",
        ):
            batch.drop_column(name)
