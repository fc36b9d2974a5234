"""Authentication and authorisation of each request: bearer token or session cookie + CSRF.

`authorised` is the dependency on every non-public route: it finds the user (an
`Authorization: Bearer` token, else the session cookie), refuses disabled users and expired
credentials, checks the role matrix for the route, and, for changes made with a cookie,
checks the session's CSRF token (header `X-CSRF-Token` or form field `csrf_token`).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.routing import Route

from zentrale.api.deps import Deps
from zentrale.api.errors import CsrfFailedError
from zentrale.api.matrix import allowed
from zentrale.api.signin import SESSION_COOKIE
from zentrale.base.errors import ForbiddenError, NotAuthenticatedError
from zentrale.core import credentials
from zentrale.core.principal import Principal
from zentrale.core.users import UserStore

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def deps_of(request: Request) -> Deps:
    """Return the QA service's collaborators bound to this request by the router."""
    return cast(Deps, request.state.qa)


def address_of(request: Request) -> str | None:
    """Return the client's address (the socket peer; proxies are not trusted)."""
    return request.client.host if request.client else None


def route_name(request: Request) -> str:
    """Return the matched route's name."""
    route = request.scope.get("route")
    return route.name if isinstance(route, Route) else ""


async def authenticate(request: Request) -> Principal:
    """Return who sent REQUEST, or raise NotAuthenticatedError."""
    deps = deps_of(request)
    users = UserStore(deps.db, deps.clock)
    address = address_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        user = await users.user_for_token(secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise NotAuthenticatedError("the API token is invalid, expired or revoked")
        return Principal.of(user, "token", address)
    session_id = request.cookies.get(SESSION_COOKIE)
    found = await users.session(session_id) if session_id else None
    if found is None:
        raise NotAuthenticatedError("sign in, or send an API token (Authorization: Bearer ...)")
    user, row = found
    return Principal.of(user=user, via="session", address=address, csrf_token=row.csrf_token)


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse a cookie-authenticated change without the session's CSRF token."""
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf_token or not credentials.same(sent, principal.csrf_token):
        raise CsrfFailedError(
            "the form or request lacks this session's CSRF token; reload the page"
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def authorised(request: Request) -> Principal:
    """Authenticate, apply the role matrix to the route, and check CSRF."""
    principal = await authenticate(request)
    request.state.principal = principal  # for the edge, which audits refusals (api.denials)
    if not allowed(route_name(request), principal.role):
        raise ForbiddenError(f"the role {principal.role.value} may not do this")
    await check_csrf(request, principal)
    return principal


Caller = Annotated[Principal, Depends(authorised)]
