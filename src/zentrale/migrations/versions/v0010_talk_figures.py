"""Conversation figures on recordings: talk per party, dead air, overtalk, monologue, ratio.

Computed by the pipeline's `analyse` step from the plaintext before it is encrypted
(zentrale.recording.talk); recordings stored before this change get them from `zentrale
recordings analyse` (it decrypts each one in memory). All nullable: None means not analysed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLOATS = (
    "talk_customer_s",
    "talk_agent_s",
    "dead_air_s",
    "longest_dead_air_s",
    "overtalk_s",
    "longest_monologue_s",
    "agent_talk_ratio",
)


def upgrade() -> None:
    """Add the figures' columns to recordings."""
    with op.batch_alter_table("recordings") as batch:
        for name in FLOATS:
            batch.add_column(sa.Column(name, sa.Float()))
        batch.add_column(sa.Column("overtalk_count", sa.Integer()))
        batch.add_column(sa.Column("talk_segments", sa.JSON()))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("recordings") as batch:
        for name in (*FLOATS, "overtalk_count", "talk_segments"):
            batch.drop_column(name)
