"""The root of the errors the stores raise on purpose (the stores' own errors derive from it)."""

from __future__ import annotations

from zentrale.base.errors import ZentraleError


class DatabaseError(ZentraleError):
    """Base of the errors the stores raise on purpose."""

    code = "database-error"
