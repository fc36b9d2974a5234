"""Migrations from an empty database to head and back, and head equal to the models."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

import zentrale.migrations.schema  # noqa: F401 - every model module, on the same metadata
from zentrale.calls.store import CallStore
from zentrale.db.base import Base
from zentrale.db.session import Database
from zentrale.migrations import current_revision, downgrade_engine, head_revision, upgrade_engine

from .conftest import inbound

# Every table of the head schema: the models' tables, which must include at least these.
TABLES = set(Base.metadata.tables)
assert {
    "calls",
    "call_events",
    "recordings",
    "recording_jobs",
    "users",
    "audit_log",
    "customers",
    "survey_answers",
} <= TABLES


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _inspect_tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_tables)


@pytest.mark.asyncio
async def test_upgrade_from_empty_gives_exactly_the_models_schema(database_url: str) -> None:
    async with Database.open(database_url) as db:
        assert await current_revision(db.engine) is None
        assert await _inspect_tables(db.engine) == set()
        await upgrade_engine(db.engine)
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
        assert diff == []
        assert await _inspect_tables(db.engine) == TABLES
        assert await current_revision(db.engine) == head_revision()


@pytest.mark.asyncio
async def test_models_differing_from_the_migration_are_detected(database_url: str) -> None:
    """The comparison is not vacuous: a schema missing an index shows up as a diff."""
    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine)
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql("DROP INDEX ix_calls_department_arrived_at")
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    assert [entry[0] for entry in diff] == ["add_index"]  # type: ignore[index]


@pytest.mark.asyncio
async def test_downgrade_to_base_removes_everything_and_upgrade_again_works(
    database_url: str,
) -> None:
    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine)
        await downgrade_engine(db.engine, "base")
        assert await _inspect_tables(db.engine) == set()
        assert await current_revision(db.engine) is None
        await upgrade_engine(db.engine)
        assert await _inspect_tables(db.engine) == TABLES


@pytest.mark.asyncio
async def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    await upgrade_engine(db.engine)
    assert await current_revision(db.engine) == head_revision()


@pytest.mark.asyncio
async def test_daemons_starting_at_once_on_an_empty_database_migrate_it_once(
    database_url: str, tmp_path: Path
) -> None:
    # Separate processes, as daemons of several nodes are (Alembic's context is per process).
    code = "from zentrale.cli import main; main()"
    env = {**os.environ, "ZENTRALE_DATABASE__URL": database_url}
    starts = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            "db",
            "upgrade",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outputs = await asyncio.gather(*(start.communicate() for start in starts))
    for start, (output, _) in zip(starts, outputs, strict=True):
        assert start.returncode == 0, output.decode()
    async with Database.open(database_url) as db:
        assert await current_revision(db.engine) == head_revision()
        assert await _inspect_tables(db.engine) == TABLES


@pytest.mark.asyncio
async def test_0017_lets_each_agent_of_a_call_wrap_it_up_and_its_downgrade_keeps_the_first(
    database_url: str,
) -> None:
    """v0017 widens call_wrapups' key from the call to (call, agent); going back keeps each
    call's first wrap-up."""

    def wrap(agent: str, minute: int) -> str:
        return (
            "INSERT INTO call_wrapups (call_id, agent_endpoint, created_at)"
            f" VALUES ('c1', '{agent}', '2026-12-07 10:{minute:02d}:00')"
        )

    async with Database.open(database_url) as db:
        await upgrade_engine(db.engine, "0016")
        await CallStore(db).create(inbound("c1"))  # the calls table is the same at 0016
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql(wrap("PJSIP/a", 1))
        with pytest.raises(IntegrityError):  # before: one wrap-up per call
            async with db.engine.begin() as connection:
                await connection.exec_driver_sql(wrap("PJSIP/b", 2))
        await upgrade_engine(db.engine, "0017")
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql(wrap("PJSIP/b", 2))
        with pytest.raises(IntegrityError):  # the same agent twice: still refused
            async with db.engine.begin() as connection:
                await connection.exec_driver_sql(wrap("PJSIP/b", 3))
        await downgrade_engine(db.engine, "0016")
        async with db.engine.connect() as connection:
            rows = await connection.exec_driver_sql("SELECT agent_endpoint FROM call_wrapups")
            assert [row[0] for row in rows] == ["PJSIP/a"]
        with pytest.raises(IntegrityError):
            async with db.engine.begin() as connection:
                await connection.exec_driver_sql(wrap("PJSIP/b", 2))
