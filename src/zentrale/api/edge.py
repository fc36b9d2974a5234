"""The HTTP edge: every error becomes `{"error": {"code", "message"}}`, and nothing leaks.

`ZentraleError`s keep their status and code; request validation becomes 422 `invalid-request`
(listing the fields, never echoing values); HTTP errors of routing keep their status; any
other exception (an error of no kind included) is logged with its traceback and answered 500
`internal-error` without it.
Unauthenticated web pages redirect to the sign-in form instead.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from zentrale.api.denials import AUDITED_STATUSES, Denial, record_denial
from zentrale.api.errors import status_of
from zentrale.base.errors import NotAuthenticatedError, RangeNotSatisfiableError, ZentraleError

log = structlog.get_logger(__name__)

_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Return the one error shape."""
    return {"error": {"code": code, "message": message, **extra}}


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.method == "GET"


async def on_error(request: Request, exc: Exception) -> Response:
    """Answer a ZentraleError with its kind's status and its code."""
    assert isinstance(exc, ZentraleError)
    status = status_of(exc)
    if status is None:
        return await on_unexpected(request, exc)
    if isinstance(exc, NotAuthenticatedError) and _is_page(request):
        return RedirectResponse("/login", status_code=303)
    if status in AUDITED_STATUSES:
        await _audit_denial(request, exc, status)
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, RangeNotSatisfiableError):
        headers["Content-Range"] = f"bytes */{exc.size}"
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc.code, exc.message), status, headers=headers)


async def _audit_denial(request: Request, exc: ZentraleError, status: int) -> None:
    principal = getattr(request.state, "principal", None)
    deps = getattr(request.state, "qa", None)
    if principal is None or deps is None:
        return
    route = request.scope.get("route")
    denial = Denial(
        route=getattr(route, "name", "") or "",
        method=request.method,
        path=request.url.path,
        status=status,
        code=exc.code,
    )
    try:
        await record_denial(deps.db, deps.denials, principal, denial, deps.clock())
    except Exception:  # the refusal is answered even if the database is down
        log.exception("api.denial_not_audited", route=denial.route)


async def on_validation_error(_request: Request, exc: Exception) -> Response:
    """Answer malformed parameters with 422 and the fields at fault (values not echoed)."""
    assert isinstance(exc, RequestValidationError)
    fields = [".".join(str(part) for part in error["loc"]) for error in exc.errors()]
    message = "invalid parameters: " + ", ".join(sorted(set(fields)))
    return JSONResponse(error_body("invalid-request", message, fields=sorted(set(fields))), 422)


async def on_http_error(_request: Request, exc: Exception) -> Response:
    """Answer routing errors (404, 405) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Log the failure with its traceback; tell the client only that it failed."""
    log.error("api.unexpected_error", path=request.url.path, method=request.method, exc_info=exc)
    return JSONResponse(error_body("internal-error", "internal error; it was logged"), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on APP."""
    app.add_exception_handler(ZentraleError, on_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
