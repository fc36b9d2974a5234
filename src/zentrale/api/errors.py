"""The HTTP statuses of zentrale's errors, in one table, and the edge's own errors.

Capabilities raise kinds of `zentrale.base.errors.ZentraleError`; `status_of` finds the
status of the nearest kind in the error's ancestry, and `zentrale.api.edge` answers with it
and the error's stable `code`. An error of no kind is a failure of the service: 500.
"""

from __future__ import annotations

from zentrale.base.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotAuthenticatedError,
    NotFoundError,
    RangeNotSatisfiableError,
    UnavailableError,
    ZentraleError,
)
from zentrale.ops.forward import NodeUnreachableError


class LoginFailedError(ZentraleError):
    """Wrong user name or password, or a disabled account (never says which)."""

    code = "login-failed"


class SecondFactorRequiredError(LoginFailedError):
    """The password was right; the account also needs its TOTP or a recovery code."""

    code = "second-factor-required"


class SecondFactorMissingError(LoginFailedError):
    """The account's role must sign in with a second factor, and it has none yet."""

    code = "second-factor-not-enrolled"


class CsrfFailedError(ForbiddenError):
    """A cookie-authenticated change came without the session's CSRF token."""

    code = "csrf-failed"


class TooManyAttemptsError(ZentraleError):
    """Too many failed sign-ins for this account or address; wait a minute."""

    code = "too-many-attempts"


STATUS: dict[type[ZentraleError], int] = {
    BadRequestError: 400,
    LoginFailedError: 401,
    NotAuthenticatedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    RangeNotSatisfiableError: 416,
    InvalidRequestError: 422,
    TooManyAttemptsError: 429,
    UnavailableError: 503,
    NodeUnreachableError: 504,
}


def status_of(error: ZentraleError) -> int | None:
    """Return the HTTP status of ERROR's kind, or None for an error of no kind."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return None
