"""Migration v0002 creates exactly the QA models (with them imported) and downgrades cleanly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import zentrale.migrations.schema  # noqa: F401  (registers every table on Base.metadata)
from zentrale.db.base import Base
from zentrale.db.session import Database
from zentrale.migrations import downgrade_engine, upgrade_engine

QA_TABLES = {
    "users",
    "api_tokens",
    "sessions",
    "evaluations",
    "comments",
    "recording_tags",
    "audit_log",
}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.mark.asyncio
async def test_head_equals_the_models_including_the_qa_tables(database_url: str) -> None:
    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine)
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
            assert await connection.run_sync(_tables) >= QA_TABLES


@pytest.mark.asyncio
async def test_downgrade_to_0001_removes_the_qa_tables_and_upgrade_works_again(
    database_url: str,
) -> None:
    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine)
        await downgrade_engine(db.engine, "0001")
        async with db.engine.connect() as connection:
            assert not QA_TABLES & await connection.run_sync(_tables)
        await upgrade_engine(db.engine)
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) >= QA_TABLES
