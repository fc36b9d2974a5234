"""`is_outage` on real errors of SQLite and PostgreSQL: a database that cannot be reached is an
outage (retried quietly); a query naming a table that does not exist is a mistake (logged)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from zentrale.db.errors import is_outage
from zentrale.db.session import Database

pytestmark = pytest.mark.asyncio


async def _error_of(db: Database, sql: str) -> Exception:
    try:
        async with db.read() as session:
            await session.execute(text(sql))
    except Exception as exc:
        return exc
    raise AssertionError(f"{sql} did not fail")


async def test_a_query_on_a_missing_table_is_no_outage(db: Database) -> None:
    error = await _error_of(db, "SELECT * FROM no_such_table")
    assert not is_outage(error), repr(error)


async def test_a_database_that_cannot_be_reached_is_an_outage(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        unreachable = f"sqlite+aiosqlite:///{tmp_path}"  # a directory: cannot be opened
    else:
        unreachable = make_url(database_url).set(port=1).render_as_string(hide_password=False)
    before = set(threading.enumerate())
    away = Database.open(unreachable)
    try:
        error = await _error_of(away, "SELECT 1")
    finally:
        await away.close()
        # aiosqlite's worker thread of the failed connection still hands a result to this
        # loop; had the loop closed first, that thread raised "Event loop is closed".
        async with asyncio.timeout(10):
            while any(t.is_alive() for t in set(threading.enumerate()) - before):  # noqa: ASYNC110 - threads set no asyncio.Event
                await asyncio.sleep(0.01)
    assert is_outage(error), repr(error)
