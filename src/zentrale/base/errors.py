"""The root of the errors zentrale raises on purpose, and the kinds the edges map once.

Every error class in zentrale derives from `ZentraleError` and names itself `...Error`. Its
`code` is stable for a meaning, so clients and scripts may rely on it; its message names what
is wrong and where. A capability derives its errors from one of the kinds below (a missing
customer is a `NotFoundError`, a taken number a `ConflictError`); the HTTP edge turns a kind
into a status in one table (`zentrale.api.errors.STATUS`) and the CLI prints the message and
exits non-zero in one place (`zentrale.cli.context`). An error of no kind is a failure of the
service (storage, keys, Asterisk) and is answered as such.
"""

from __future__ import annotations

from typing import ClassVar


class ZentraleError(Exception):
    """Base of every error zentrale raises on purpose; `code` never changes for a meaning."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(ZentraleError):
    """The request cannot be carried out as asked."""

    code = "bad-request"


class InvalidRequestError(ZentraleError):
    """A parameter, field or file is malformed."""

    code = "invalid-request"


class NotAuthenticatedError(ZentraleError):
    """No valid credentials came with the request."""

    code = "not-authenticated"


class ForbiddenError(ZentraleError):
    """The user's role or scope does not allow this."""

    code = "forbidden"


class NotFoundError(ZentraleError):
    """Nothing with this id (or nothing the user may see: the same answer on purpose)."""

    code = "not-found"


class ConflictError(ZentraleError):
    """The thing exists already, or is not in a state that allows this."""

    code = "conflict"


class RangeNotSatisfiableError(ZentraleError):
    """The requested byte range lies outside the object."""

    code = "range-not-satisfiable"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class UnavailableError(ZentraleError):
    """A service zentrale depends on (storage, the key service) is unreachable; retry later."""

    code = "service-unavailable"
