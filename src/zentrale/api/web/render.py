"""Rendering of the web pages: one Jinja2 environment (autoescaping), texts, language cookie."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.routing import NoMatchFound

from zentrale.api.web.i18n import LANGUAGES, TEXTS, choose

LANG_COOKIE = "lang"

_env = Environment(
    loader=PackageLoader("zentrale.api.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    """Return the page language: `?lang=` switch, cookie, Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    return choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render TEMPLATE in the request's language; remember a `?lang=` switch in a cookie."""
    lang = language(request)
    html = _env.get_template(template).render(
        t=TEXTS[lang], lang=lang, request=request, workspace=_serves_workspace(request), **context
    )
    response = HTMLResponse(html, status, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", path="/")
    return response


def _serves_workspace(request: Request) -> bool:
    """Whether this app has the agents' workspace (the daemon's does, `api serve`'s does not)."""
    try:
        request.app.url_path_for("web.agent")
    except NoMatchFound:
        return False
    return True
