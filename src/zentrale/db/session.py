"""The unit of work: one `Database` per process, handing out transactional sessions.

The bootstrap opens a `Database` in the lifespan and passes it to the stores (`CallStore`,
`RecordingStore`, `JobQueue`). `write()` commits on success and rolls back on any error, so
a store method is all or nothing; `read()` never writes. Rows come back detached and fully
loaded (no expiry on commit), so callers may use them after the session is gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from zentrale.db.engine import WRITE_OPTION, DatabaseUrl, create_engine, safe_url


class Database:
    """An engine and its session factory; use `async with Database.open(url)` or `close()`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def open(cls, url: DatabaseUrl, *, cwd: Path | None = None, **options: Any) -> Self:
        """Create the engine for URL (see `create_engine`) and wrap it."""
        return cls(create_engine(url, cwd=cwd, **options))

    @property
    def dialect(self) -> str:
        """Name of the database dialect: `sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """Yield a session in a write transaction, committed on success, rolled back on error."""
        async with self._sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Yield a session for queries; it is rolled back at the end."""
        async with self._sessions() as session:
            yield session

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Database({safe_url(self.engine.url)})"
