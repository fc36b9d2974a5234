"""Customer records, agents' notes on calls, survey answers and outbound survey campaigns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Models: `zentrale.customers.models` and `zentrale.surveys.models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
LABEL = sa.String(32)
NAME = sa.String(128)
NUMBER = sa.String(32)


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, source: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=f"fk_{source}_{column}_{table}", ondelete=ondelete
    )


def upgrade() -> None:
    """Create customers, their numbers, call notes, survey answers and campaigns."""
    op.create_table(
        "customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_number", sa.String(64)),
        sa.Column("name", NAME),
        sa.Column("language", sa.String(16)),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text()),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("customer_number", name="uq_customers_customer_number"),
    )
    op.create_table(
        "customer_numbers",
        sa.Column("number", NUMBER, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        _fk("customer_id", "customers", "customer_numbers", "CASCADE"),
        sa.PrimaryKeyConstraint("number", name="pk_customer_numbers"),
    )
    op.create_index("ix_customer_numbers_customer_id", "customer_numbers", ["customer_id"])
    op.create_table(
        "call_notes",
        sa.Column("id", ID, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("customer_id", ID),
        sa.Column("kind", LABEL, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", ID),
        sa.Column("author_name", NAME, nullable=False),
        sa.Column("department", NAME),
        _time("created_at", nullable=False),
        _fk("call_id", "calls", "call_notes", "CASCADE"),
        _fk("customer_id", "customers", "call_notes", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_call_notes"),
    )
    op.create_index("ix_call_notes_call_id", "call_notes", ["call_id"])
    op.create_index("ix_call_notes_customer_id", "call_notes", ["customer_id"])
    op.create_index("ix_call_notes_kind_created_at", "call_notes", ["kind", "created_at"])
    op.create_table(
        "survey_answers",
        sa.Column("id", ID, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("survey", NAME, nullable=False),
        sa.Column("question", NAME, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Integer()),
        sa.Column("status", LABEL, nullable=False),
        sa.Column("scale", sa.String(16), nullable=False),
        sa.Column("department", NAME),
        sa.Column("agent_endpoint", NAME),
        sa.Column("recording_id", ID),
        sa.Column("campaign_id", ID),
        _time("answered_at", nullable=False),
        _fk("call_id", "calls", "survey_answers", "CASCADE"),
        _fk("recording_id", "recordings", "survey_answers", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_survey_answers"),
    )
    op.create_index("ix_survey_answers_call_id", "survey_answers", ["call_id"])
    op.create_index(
        "ix_survey_answers_department_answered_at", "survey_answers", ["department", "answered_at"]
    )
    op.create_index(
        "ix_survey_answers_survey_answered_at", "survey_answers", ["survey", "answered_at"]
    )
    _campaigns()


def _campaigns() -> None:
    """Outbound survey campaigns, their numbers and each call placed to them."""
    op.create_table(
        "survey_campaigns",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("survey", NAME, nullable=False),
        sa.Column("state", LABEL, nullable=False),
        sa.Column("window_from", sa.String(5), nullable=False),
        sa.Column("window_to", sa.String(5), nullable=False),
        sa.Column("days", sa.String(32), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_after_s", sa.Integer(), nullable=False),
        sa.Column("ring_s", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("created_by", NAME),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_survey_campaigns"),
        sa.UniqueConstraint("name", name="uq_survey_campaigns_name"),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("number", NUMBER, nullable=False),
        sa.Column("state", LABEL, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        sa.Column("last_result", LABEL),
        sa.Column("last_call_id", sa.String(64)),
        _time("updated_at", nullable=False),
        _fk("campaign_id", "survey_campaigns", "campaign_targets", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_targets"),
        sa.UniqueConstraint("campaign_id", "number", name="uq_campaign_targets_campaign_id"),
    )
    op.create_index(
        "ix_campaign_targets_campaign_id_state",
        "campaign_targets",
        ["campaign_id", "state", "line"],
    )
    op.create_index(
        "ix_campaign_targets_campaign_id_next_attempt_at",
        "campaign_targets",
        ["campaign_id", "next_attempt_at"],
    )
    op.create_table(
        "campaign_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        _time("started_at", nullable=False),
        _time("ended_at"),
        sa.Column("result", LABEL),
        _fk("campaign_id", "survey_campaigns", "campaign_attempts", "CASCADE"),
        _fk("target_id", "campaign_targets", "campaign_attempts", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_attempts"),
    )
    op.create_index("ix_campaign_attempts_target_id", "campaign_attempts", ["target_id"])


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in ("campaign_attempts", "campaign_targets", "survey_campaigns"):
        op.drop_table(table)
    for table in ("survey_answers", "call_notes", "customer_numbers", "customers"):
        op.drop_table(table)
