"""Operations: no tables of its own (issue 10 needed none).

Several nodes share the existing tables: recording jobs already carry their lease
(`locked_by`, `locked_until`) and are claimed with SKIP LOCKED, and `calls.asterisk_node` says
which node's Asterisk holds a recording. Agents' state and queue positions are per node by
design (docs/operator.md, "Running several nodes"), so nothing of them is stored. The revision
stays so that later migrations keep one chain.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change."""


def downgrade() -> None:
    """Nothing to change."""
