"""Alembic's environment: runs migrations on the connection `zentrale.migrations` hands in.

There is no alembic.ini and no URL here: `migrate` builds the Config in code and passes an
open connection, so the URL (and its password) never passes through Alembic's config parser.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from zentrale.migrations.schema import METADATA


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on CONNECTION in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _connection() -> Connection:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations with zentrale.migrations or `zentrale db upgrade`")
    return connection


run_migrations(_connection())
