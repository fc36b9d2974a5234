"""The web pages: sign-in, recording search, one recording (player, timeline, scorecard,
comments, tags), and the audit log. They call the same stores as the API, under the same
role matrix; forms carry the session's CSRF token and answer with a redirect (POST/redirect/GET).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.api.auth import Caller, address_of, deps_of
from zentrale.api.deps import LOGIN_FORM_LIFETIME
from zentrale.api.errors import status_of
from zentrale.api.signin import SESSION_COOKIE, clear_session_cookie, set_session_cookie, sign_in
from zentrale.api.text import form_text
from zentrale.api.web import static
from zentrale.api.web.i18n import TEXTS
from zentrale.api.web.render import language, render
from zentrale.api.web.talk import talk_view
from zentrale.base.errors import InvalidRequestError, NotFoundError, ZentraleError
from zentrale.calls.models import Call, CallEvent, Direction
from zentrale.core import audit, credentials
from zentrale.core.models import AuditEntry, Role, User
from zentrale.core.users import UserStore
from zentrale.qa import reviews
from zentrale.qa.search import TAG_PATTERN, SearchQuery, search
from zentrale.qa.story import tell
from zentrale.recording.models import Recording

public_pages = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "zentrale_login"
RecordingId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
_FILTERS = set(SearchQuery.model_fields) - {"limit"}


def _login_csrf(request: Request, nonce: str) -> str:
    return credentials.sign(deps_of(request).session_secret, "login:" + nonce)


@public_pages.get("/login", name="web.login_form")
async def login_form(request: Request) -> Response:
    """Show the sign-in form (with a signed CSRF token bound to a cookie nonce)."""
    return _login_page(request, None, 200)


def _login_page(request: Request, error: str | None, status: int) -> Response:
    # The nonce carries its issue time: a form is good for an hour, and once (deps.login_nonces).
    nonce = f"{int(deps_of(request).clock().timestamp())}.{secrets.token_urlsafe(16)}"
    response = render(request, "login.html", status, error=error, csrf=_login_csrf(request, nonce))
    deps = deps_of(request)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=int(LOGIN_FORM_LIFETIME.total_seconds()),
        path="/login",
        httponly=True,
        samesite="strict",
        secure=deps.settings.api.cookie_secure,
    )
    return response


_LOGIN_ERRORS = {
    "too-many-attempts": "too_many",
    "second-factor-required": "code_needed",
    "second-factor-not-enrolled": "not_enrolled",
}


def _fresh_login_form(request: Request, nonce: str, sent: str) -> bool:
    """Tell whether the form's token is ours, under an hour old, and used for the first time."""
    if not nonce or not credentials.same(sent, _login_csrf(request, nonce)):
        return False
    deps = deps_of(request)
    issued, _, _ = nonce.partition(".")
    if not issued.isdigit():
        return False
    age = deps.clock().timestamp() - int(issued)
    return 0 <= age <= LOGIN_FORM_LIFETIME.total_seconds() and deps.login_nonces.first(nonce)


@public_pages.post("/login", name="web.login")
async def login(request: Request) -> Response:
    """Check the form's CSRF token and the password; start a session and go to the list."""
    form = await request.form()
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    sent = str(form.get("csrf_token", ""))
    if not _fresh_login_form(request, nonce, sent):
        return _login_page(request, "login_failed", 403)
    deps = deps_of(request)
    try:
        _user, session_id, _csrf = await sign_in(
            deps,
            form_text(form, "username", 64),
            form_text(form, "password", 1024),
            address_of(request),
            form_text(form, "code", 32) or None,
        )
    except ZentraleError as exc:
        status = status_of(exc) or 500
        return _login_page(request, _LOGIN_ERRORS.get(exc.code, "login_failed"), status)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, deps, session_id)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@public_pages.get("/static/{name}", name="web.static")
async def static_file(name: Annotated[str, Path(pattern=r"^[a-z0-9._-]{1,64}$")]) -> Response:
    """Serve one of the page's bundled files (a fixed list: nothing else is reachable)."""
    return static.response(name)


@pages.post("/logout", name="web.logout")
async def logout(caller: Caller, request: Request) -> Response:
    """End the session and go to the sign-in form."""
    deps = deps_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await UserStore(deps.db, deps.clock).close_session(session_id)
    await audit.record(deps.db, caller.actor, audit.Event("auth.logout"), deps.clock())
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, deps)
    return response


def _filters(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in _FILTERS and v.strip()}


@pages.get("/", name="web.recordings")
async def recordings(caller: Caller, request: Request) -> Response:
    """The search page; with htmx, only the results table."""
    deps = deps_of(request)
    filters, error, page = _filters(request), None, None
    try:
        query = SearchQuery.model_validate(filters)
        async with deps.db.read() as session:
            page = await search(session, caller, query)
    except (ValidationError, InvalidRequestError):
        error = "invalid"
    if page is not None:
        event = audit.Event("recording.search", detail={"filters": filters, "hits": len(page.hits)})
        await audit.record(deps.db, caller.actor, event, deps.clock())
    template = "_results.html" if request.headers.get("hx-request") else "recordings.html"
    return render(request, template, caller=caller, filters=filters, page=page, error=error)


@pages.get("/recordings/{recording_id}", name="web.recording")
async def recording(caller: Caller, recording_id: RecordingId, request: Request) -> Response:
    """One recording: player with waveform and speech lanes, figures, the call story, scorecard,
    evaluations, comments, tags."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        found = await reviews.visible(session, caller, recording_id)
        call = await session.get(Call, found.call_id)
        events = list(
            await session.scalars(
                select(CallEvent).where(CallEvent.call_id == found.call_id).order_by(CallEvent.seq)
            )
        )
        names = await _agent_names(session, events, found, call)
        context: dict[str, Any] = {
            "tags": await reviews.tags(session, found.id),
            "evaluations": await reviews.evaluations(session, found.id),
            "comments": await reviews.comments(session, found.id),
        }
    event = audit.Event("recording.view", target=f"recording:{found.id}")
    await audit.record(deps.db, caller.actor, event, deps.clock())
    card = deps.scorecards.for_department(found.department)
    lang = language(request)
    story = tell(
        events,
        lang,
        names=names,
        outbound=call is not None and call.direction is Direction.OUTBOUND,
        recording_id=found.id,
    )
    return render(
        request,
        "recording.html",
        caller=caller,
        recording=found,
        call=call,
        story=story,
        talk=talk_view(found, TEXTS[lang], lang),
        card=card[1] if card else None,
        reviewer=caller.role is not Role.AGENT,
        is_agent=caller.role is Role.AGENT,
        **context,
    )


async def _agent_names(
    session: AsyncSession, events: list[CallEvent], found: Recording, call: Call | None
) -> dict[str, str]:
    """Endpoint → name of the agents on a timeline: as the call knew them, else the users'."""
    names = {
        row.agent_endpoint: row.agent_name
        for row in (call, found)
        if row is not None and row.agent_endpoint and row.agent_name
    }
    endpoints = {str(e.detail["agent"]) for e in events if e.detail and e.detail.get("agent")}
    unnamed = endpoints - names.keys()
    if unnamed:
        query = select(User.agent_endpoint, User.display_name)
        for endpoint, name in await session.execute(query.where(User.agent_endpoint.in_(unnamed))):
            names.setdefault(str(endpoint), str(name))
    return names


def _answers(form: Any, card: Any) -> dict[str, bool | int]:
    answers: dict[str, bool | int] = {}
    for question in card.questions():
        value = str(form.get(f"q.{question.id}", ""))
        if question.kind == "yes_no" and value in ("yes", "no"):
            answers[question.id] = value == "yes"
        elif question.kind == "scale" and value.isdigit():
            answers[question.id] = int(value)
    return answers


def _back(recording_id: str) -> Response:
    return RedirectResponse(f"/recordings/{recording_id}", status_code=303)


@pages.post("/recordings/{recording_id}/evaluate", name="web.evaluate")
async def evaluate(caller: Caller, recording_id: RecordingId, request: Request) -> Response:
    """Store the filled-in scorecard."""
    deps = deps_of(request)
    form, now = await request.form(), deps.clock()
    async with deps.db.write() as session:
        found = await reviews.visible(session, caller, recording_id)
        card = deps.scorecards.for_department(found.department)
        answers = _answers(form, card[1]) if card else {}
        note = form_text(form, "note", 4000).strip() or None
        row = await reviews.evaluate(
            session=session,
            principal=caller,
            recording=found,
            scorecards=deps.scorecards,
            answers=answers,
            note=note,
            now=now,
        )
        detail = {"evaluation": row.id, "score": row.score, "passed": row.passed}
        event = audit.Event("evaluation.create", target=f"recording:{found.id}", detail=detail)
        await audit.append(session, caller.actor, event, now)
    return _back(recording_id)


@pages.post("/recordings/{recording_id}/comment", name="web.comment")
async def comment(caller: Caller, recording_id: RecordingId, request: Request) -> Response:
    """Pin a comment to a moment of the recording."""
    deps = deps_of(request)
    form, now = await request.form(), deps.clock()
    text = form_text(form, "text", 2000).strip()
    try:
        offset = float(str(form.get("offset_s", "0")))
    except ValueError:
        raise InvalidRequestError("the time must be a number of seconds") from None
    if not text or not 0 <= offset <= 86400:
        raise InvalidRequestError("a comment needs text and a time within the call")
    async with deps.db.write() as session:
        found = await reviews.visible(session, caller, recording_id)
        row = await reviews.add_comment(
            session=session, principal=caller, recording=found, offset_s=offset, text=text, now=now
        )
        event = audit.Event(
            "comment.create",
            target=f"recording:{found.id}",
            detail={"comment": row.id, "offset_s": offset},
        )
        await audit.append(session, caller.actor, event, now)
    return _back(recording_id)


@pages.post("/recordings/{recording_id}/tag", name="web.tag")
async def tag(caller: Caller, recording_id: RecordingId, request: Request) -> Response:
    """Add (or with remove=1, remove) a tag."""
    import re

    deps = deps_of(request)
    form, now = await request.form(), deps.clock()
    name = str(form.get("tag", "")).strip().lower()
    if not re.fullmatch(TAG_PATTERN, name):
        raise InvalidRequestError("a tag is 1-64 lower-case letters, digits, '.', '_' or '-'")
    async with deps.db.write() as session:
        found = await reviews.visible(session, caller, recording_id)
        if form.get("remove"):
            changed, action = await reviews.remove_tag(session, found, name), "tag.remove"
        else:
            changed, action = (
                await reviews.add_tag(
                    session=session, principal=caller, recording=found, tag=name, now=now
                ),
                "tag.add",
            )
        if changed:
            event = audit.Event(action, target=f"recording:{found.id}", detail={"tag": name})
            await audit.append(session, caller.actor, event, now)
    return _back(recording_id)


@pages.post("/evaluations/{evaluation_id}/acknowledge", name="web.acknowledge")
async def acknowledge(
    caller: Caller,
    evaluation_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")],
    request: Request,
) -> Response:
    """The agent confirms having read an evaluation of their call."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        row = await reviews.acknowledge(session, caller, evaluation_id, now)
        event = audit.Event(
            "evaluation.acknowledge",
            target=f"recording:{row.recording_id}",
            detail={"evaluation": row.id},
        )
        await audit.append(session, caller.actor, event, now)
    return _back(row.recording_id)


@pages.get("/audit", name="web.audit")
async def audit_page(caller: Caller, request: Request) -> Response:
    """The newest 200 audit entries."""
    deps = deps_of(request)
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(200)
    async with deps.db.read() as session:
        entries = list(await session.scalars(query))
    return render(request, "audit.html", caller=caller, entries=entries)


__all__ = ["NotFoundError", "pages", "public_pages"]
