"""Signing in and out: password check with rate limiting, session start, cookie, audit."""

from __future__ import annotations

from fastapi import Response

from zentrale.api.deps import Deps
from zentrale.api.errors import (
    LoginFailedError,
    SecondFactorMissingError,
    SecondFactorRequiredError,
    TooManyAttemptsError,
)
from zentrale.core import audit
from zentrale.core.models import Role, User
from zentrale.core.passwords import verify_password
from zentrale.core.users import SecondFactors, UserStore

SESSION_COOKIE = "zentrale_session"
SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})


async def sign_in(
    deps: Deps, username: str, password: str, address: str | None, code: str | None = None
) -> tuple[User, str, str]:
    """Check the password (and the second factor's CODE) and open a session; return (user,
    session id, CSRF token)."""
    where = address or "unknown"
    if not deps.limiter.allowed(username, where):
        await _audit_failure(deps, username, address, "rate-limited")
        raise TooManyAttemptsError("too many failed sign-ins; wait a minute")
    users = UserStore(deps.db, deps.clock)
    user = await users.by_name(username)
    good = verify_password(user.password_hash if user else None, password)
    if user is None or not good or user.disabled:
        deps.limiter.failed(username, where)
        await _audit_failure(deps, username, address, "bad-credentials")
        raise LoginFailedError("wrong user name or password")
    factor = await _second_factor(deps, user, code, address)
    deps.limiter.succeeded(username, where)
    session_id, csrf = await users.open_session(user.id, deps.settings.api.session_hours, address)
    actor = audit.Actor(user.id, user.username, address)
    detail = {"second_factor": factor} if factor else {}
    await audit.record(deps.db, actor, audit.Event("auth.login", detail=detail), deps.clock())
    return user, session_id, csrf


async def _second_factor(
    deps: Deps, user: User, code: str | None, address: str | None
) -> str | None:
    """Check the second factor of USER, if it has one (or must); return which was used."""
    if user.totp_confirmed_at is None:
        if deps.settings.api.require_second_factor and user.role in SECOND_FACTOR_ROLES:
            await _audit_failure(deps, user.username, address, "second-factor-not-enrolled")
            raise SecondFactorMissingError(
                "this account must use a second factor; ask an administrator to enrol it"
            )
        return None
    if not code:
        raise SecondFactorRequiredError("enter the code from the authenticator app")
    used = await SecondFactors(deps.db, deps.clock).check(user.id, code)
    if used is None:
        deps.limiter.failed(user.username, address or "unknown")
        await _audit_failure(deps, user.username, address, "bad-second-factor")
        raise LoginFailedError("wrong code")
    return used


async def _audit_failure(deps: Deps, username: str, address: str | None, why: str) -> None:
    actor = audit.Actor(None, username[:64], address)
    event = audit.Event("auth.login_failed", detail={"why": why})
    await audit.record(deps.db, actor, event, deps.clock())


def set_session_cookie(response: Response, deps: Deps, session_id: str) -> None:
    """Put the session id in a Secure (if configured), HttpOnly, SameSite=Strict cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(deps.settings.api.session_hours * 3600),
        path="/",
        secure=deps.settings.api.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, deps: Deps) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=deps.settings.api.cookie_secure,
        httponly=True,
        samesite="strict",
    )
