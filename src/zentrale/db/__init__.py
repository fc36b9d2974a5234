"""Database plumbing (SQLAlchemy + Alembic): the engine, sessions, the declarative base.

Each capability declares its own tables on `zentrale.db.base.Base` and keeps its own store;
the wiring opens one `Database` (SQLite by default, PostgreSQL at scale) and awaits
`zentrale.migrations.upgrade_engine(db.engine)` before handing it to them.
"""

from zentrale.db.engine import DEFAULT_URL, create_engine, resolve_url, safe_url
from zentrale.db.errors import DatabaseError
from zentrale.db.session import Database

__all__ = ["DEFAULT_URL", "Database", "DatabaseError", "create_engine", "resolve_url", "safe_url"]
