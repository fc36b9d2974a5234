"""The root of the errors the stores raise on purpose (the stores' own errors derive from it),
and how a retrying loop tells a database outage from a mistake (`is_outage`)."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy import exc as sa_exc

from zentrale.base.errors import ZentraleError


class DatabaseError(ZentraleError):
    """Base of the errors the stores raise on purpose."""

    code = "database-error"


def is_outage(exc: BaseException) -> bool:
    """Tell whether EXC says the database is away (connection refused or lost, a pool or
    statement timeout, the server shutting down) rather than a mistake in a query or in code.

    Loops that retry the database use it to wait quietly through an outage while still logging
    a programming error with its traceback.
    """
    if isinstance(exc, DatabaseError):
        return False
    if isinstance(exc, OSError | TimeoutError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # ConnectionRefusedError, a reset, the pool waiting in vain
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or _outage_driver_error(exc)
    return isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError)


# PostgreSQL's classes for a server going away: 08 connection exception, 57P admin shutdown /
# crash shutdown / cannot connect now, 53 insufficient resources (too many connections).
_OUTAGE_SQLSTATES = ("08", "57P", "53")
# SQLite reports a missing table as an OperationalError too: only these messages are outages.
_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error")


def _outage_driver_error(exc: sa_exc.DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        return str(orig).lower().startswith(_SQLITE_OUTAGES)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str) and state:
        return state.startswith(_OUTAGE_SQLSTATES)
    # No SQL state: the driver lost or could not make the connection.
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
