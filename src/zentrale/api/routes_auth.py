"""API routes of the signed-in user: sign in and out, who am I, personal API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from zentrale.api.auth import Caller, address_of, deps_of
from zentrale.api.schemas import Body, LoginBody, MeOut, TokenCreate, TokenOut
from zentrale.api.signin import SESSION_COOKIE, clear_session_cookie, set_session_cookie, sign_in
from zentrale.base.errors import InvalidRequestError
from zentrale.core import audit
from zentrale.core.principal import Principal
from zentrale.core.users import SecondFactors, UserStore

public = APIRouter(prefix="/api", tags=["auth"])
router = APIRouter(prefix="/api", tags=["auth"])


def _me(principal: Principal, csrf: str | None = None) -> MeOut:
    return MeOut(
        id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        departments=list(principal.departments),
        agent_endpoint=principal.agent_endpoint,
        csrf_token=csrf,
    )


@public.post("/auth/login", name="auth.login", response_model=MeOut)
async def login(body: LoginBody, request: Request, response: Response) -> MeOut:
    """Sign in with a password; sets the session cookie and returns the CSRF token."""
    deps = deps_of(request)
    user, session_id, csrf = await sign_in(
        deps, body.username, body.password, address_of(request), body.code
    )
    set_session_cookie(response, deps, session_id)
    return _me(
        Principal.of(user=user, via="session", address=address_of(request), csrf_token=csrf), csrf
    )


@router.post("/auth/logout", name="auth.logout", status_code=204)
async def logout(caller: Caller, request: Request, response: Response) -> None:
    """End the browser session (a token caller: nothing to end)."""
    deps = deps_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if caller.via == "session" and session_id:
        await UserStore(deps.db, deps.clock).close_session(session_id)
        clear_session_cookie(response, deps)
    await audit.record(deps.db, caller.actor, audit.Event("auth.logout"), deps.clock())


@router.get("/me", name="me.show", response_model=MeOut)
async def me(caller: Caller) -> MeOut:
    """Return the signed-in user (with the session's CSRF token when signed in by cookie)."""
    return _me(caller, caller.csrf_token)


@router.get("/me/tokens", name="me.tokens", response_model=list[TokenOut])
async def tokens(caller: Caller, request: Request) -> list[TokenOut]:
    """List the user's API tokens (never their secrets)."""
    deps = deps_of(request)
    return [TokenOut.of(row) for row in await UserStore(deps.db).tokens(caller.user_id)]


@router.post("/me/tokens", name="me.token_create", response_model=TokenOut, status_code=201)
async def create_token(caller: Caller, body: TokenCreate, request: Request) -> TokenOut:
    """Create a personal API token; its secret is in this answer only."""
    deps = deps_of(request)
    most = deps.settings.api.token_days
    if body.days is not None and body.days > most:
        raise InvalidRequestError(f"days: at most {most} (the setting api.token_days)")
    days = body.days or most
    issued = await UserStore(deps.db, deps.clock).issue_token(caller.user_id, body.name, days)
    event = audit.Event("token.create", target=f"token:{issued.row.id}", detail={"days": days})
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return TokenOut.of(issued.row, issued.secret)


@router.delete("/me/tokens/{token_id}", name="me.token_revoke", status_code=204)
async def revoke_token(caller: Caller, token_id: str, request: Request) -> None:
    """Revoke one of the user's API tokens."""
    deps = deps_of(request)
    await UserStore(deps.db, deps.clock).revoke_token(caller.user_id, token_id)
    event = audit.Event("token.revoke", target=f"token:{token_id}")
    await audit.record(deps.db, caller.actor, event, deps.clock())


class TotpStartOut(BaseModel):
    """A started enrolment: type the secret or open the URI in an authenticator app."""

    secret: str
    uri: str


class TotpCode(Body):
    """A code from the authenticator app."""

    code: str = Field(min_length=6, max_length=8, pattern=r"^[0-9 ]+$")


class RecoveryCodesOut(BaseModel):
    """Recovery codes, shown this once: each signs in once in place of a TOTP code."""

    recovery_codes: list[str]


@router.post("/me/totp", name="me.totp_start", response_model=TotpStartOut, status_code=201)
async def start_totp(caller: Caller, request: Request) -> TotpStartOut:
    """Start enrolling a second factor (TOTP); it is asked for once confirmed with a code."""
    deps = deps_of(request)
    enrolment = await SecondFactors(deps.db, deps.clock).start(caller.user_id)
    event = audit.Event("totp.start", target=f"user:{caller.user_id}")
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return TotpStartOut(secret=enrolment.secret, uri=enrolment.uri)


@router.post("/me/totp/confirm", name="me.totp_confirm", response_model=RecoveryCodesOut)
async def confirm_totp(caller: Caller, body: TotpCode, request: Request) -> RecoveryCodesOut:
    """Confirm the enrolment with a first code; returns the recovery codes (shown once)."""
    deps = deps_of(request)
    codes = await SecondFactors(deps.db, deps.clock).confirm(caller.user_id, body.code)
    event = audit.Event("totp.enrol", target=f"user:{caller.user_id}")
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return RecoveryCodesOut(recovery_codes=codes)
