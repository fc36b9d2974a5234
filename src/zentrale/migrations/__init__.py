"""Schema migrations through Alembic's API, without an alembic.ini.

The daemon's lifespan awaits `upgrade_engine(engine)` before it serves; `zentrale db` and
scripts call the blocking `upgrade(url)`, `downgrade(url, revision)` and `current(url)`.
The Alembic `Config` is built here and the connection handed to `migrations/env.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from zentrale.db.engine import WRITE_OPTION, DatabaseUrl, create_engine, safe_url

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent
# PostgreSQL advisory lock held by the transaction that migrates ("zent").
LOCK_KEY = 0x7A656E74
T = TypeVar("T")


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic Config for zentrale's migrations, bound to CONNECTION."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest revision of the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database of ENGINE up to REVISION."""
    await _run(engine, lambda conn: command.upgrade(alembic_config(conn), revision))
    log.info("database upgraded", url=safe_url(engine.url), revision=revision)


async def downgrade_engine(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database of ENGINE down to REVISION (`base` drops everything)."""
    await _run(engine, lambda conn: command.downgrade(alembic_config(conn), revision))
    log.warning("database downgraded", url=safe_url(engine.url), revision=revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database of ENGINE is at, or None if it has none."""
    return await _run(engine, lambda conn: MigrationContext.configure(conn).get_current_revision())


def upgrade(url: DatabaseUrl, revision: str = "head") -> None:
    """Migrate the database at URL up to REVISION (blocking; not inside an event loop)."""
    asyncio.run(_with_engine(url, lambda engine: upgrade_engine(engine, revision)))


def downgrade(url: DatabaseUrl, revision: str) -> None:
    """Migrate the database at URL down to REVISION (blocking; not inside an event loop)."""
    asyncio.run(_with_engine(url, lambda engine: downgrade_engine(engine, revision)))


def current(url: DatabaseUrl) -> str | None:
    """Return the revision of the database at URL (blocking; not inside an event loop)."""
    return asyncio.run(_with_engine(url, current_revision))


async def _run(engine: AsyncEngine, work: Callable[[Connection], T]) -> T:
    async with engine.connect() as connection:
        writing = await connection.execution_options(**{WRITE_OPTION: True})
        # Daemons of several nodes may start at once on one database: one migrates, the others
        # wait here and then find it at head. The lock is taken by the first statement, so the
        # whole upgrade (reading the revision included) is one transaction that Alembic joins:
        # PostgreSQL takes an advisory lock, SQLite's BEGIN IMMEDIATE its write lock. Without
        # it Alembic runs SQLite's migrations one transaction each, after reading the revision
        # unlocked, and a second process ran 0001 again on tables another had just made.
        if writing.dialect.name == "postgresql":
            await writing.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        else:
            await writing.execute(text("SELECT 1"))
        result = await writing.run_sync(work)
        await writing.commit()
        return result


async def _with_engine(url: DatabaseUrl, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    engine = create_engine(url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()
