"""Database URLs and the asyncio engine: SQLite (aiosqlite) by default, PostgreSQL (asyncpg).

The bootstrap calls `create_engine` once with the configured URL. Relative SQLite paths are
resolved against the working directory and their directory is created; every SQLite
connection gets WAL, foreign keys and a busy timeout, and write transactions start with
`BEGIN IMMEDIATE` so two writers queue on the lock instead of failing half-way. A URL is
only ever shown through `safe_url`, which hides the password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr
from sqlalchemy import URL, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

log = structlog.get_logger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///var/zentrale.db"
BUSY_TIMEOUT_MS = 10_000
# Execution option a session sets to open its SQLite transaction with BEGIN IMMEDIATE.
WRITE_OPTION = "zentrale_write"

DatabaseUrl = str | URL | SecretStr


def safe_url(url: DatabaseUrl) -> str:
    """Return URL as text with its password replaced by ***."""
    return _as_url(url).render_as_string(hide_password=True)


def resolve_url(url: DatabaseUrl, cwd: Path | None = None) -> URL:
    """Parse URL; make a relative SQLite path absolute (against CWD) and create its directory."""
    parsed = _as_url(url)
    if not is_sqlite(parsed) or not parsed.database or parsed.database == ":memory:":
        return parsed
    path = Path(parsed.database)
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path))


def is_sqlite(url: URL) -> bool:
    """Tell whether URL names a SQLite database."""
    return url.get_backend_name() == "sqlite"


def create_engine(url: DatabaseUrl, *, cwd: Path | None = None, **options: Any) -> AsyncEngine:
    """Create the asyncio engine for URL with zentrale's connection settings."""
    resolved = resolve_url(url, cwd)
    engine = create_async_engine(resolved, pool_pre_ping=not is_sqlite(resolved), **options)
    if is_sqlite(resolved):
        _configure_sqlite(engine)
    log.info("database engine created", url=safe_url(resolved), dialect=engine.dialect.name)
    return engine


def _as_url(url: DatabaseUrl) -> URL:
    if isinstance(url, SecretStr):
        return make_url(url.get_secret_value())
    return make_url(url)


def _configure_sqlite(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the driver (it would BEGIN lazily, DEFERRED) so
    # `_on_sqlite_begin` decides; PRAGMAs must run outside a transaction anyway.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    # A DEFERRED transaction that reads and then writes fails at once (SQLITE_BUSY, no wait)
    # when another writer committed in between; IMMEDIATE takes the write lock up front.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def parse_url(url: DatabaseUrl) -> URL:
    """Return URL parsed (the value of a secret too)."""
    return _as_url(url)
