"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database per test.

PostgreSQL (127.0.0.1:5432, trust auth; `ZENTRALE_TEST_POSTGRES` overrides the admin DSN)
gets a database `<prefix>_<pid>_<n>` created from `test` and dropped WITH FORCE afterwards, so
tests never see each other's rows. The admin statements run on their own event loop in a worker
thread, which is safe from inside any test, sync or async.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine

T = TypeVar("T")

ADMIN_DSN = os.environ.get("ZENTRALE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
START_COMMAND = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
_numbers = itertools.count(1)


class PostgresUnreachableError(RuntimeError):
    """The test PostgreSQL server does not answer; the message says how to start it."""


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run COROUTINE to the end on its own loop in a worker thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _admin(sql: str) -> None:
    try:
        connection = await asyncpg.connect(ADMIN_DSN)
    except OSError as exc:
        raise PostgresUnreachableError(
            f"PostgreSQL is not reachable at {ADMIN_DSN} ({exc}); start it: {START_COMMAND}"
        ) from None
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_url(database: str) -> str:
    """Return the SQLAlchemy asyncpg URL of DATABASE on the test server."""
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


@contextmanager
def fresh_database(backend: str, tmp_path: Path, prefix: str = "zentrale_test") -> Iterator[str]:
    """Yield the URL of an empty database of BACKEND (sqlite or postgresql); drop it after."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'zentrale.db'}"
        return
    name = f"{prefix}_{os.getpid()}_{next(_numbers)}"
    run_blocking(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        run_blocking(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[Database]:
    """Open the database at URL migrated to the newest schema; close it on leaving."""
    database = Database.open(url)
    try:
        await upgrade_engine(database.engine)
        yield database
    finally:
        await database.close()
