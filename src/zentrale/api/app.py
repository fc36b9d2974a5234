"""Assembly of the QA service: `routers(deps)`, `install(app, deps)` and the standalone app.

The daemon mounts `routers(deps)` in its own app and calls `install(app, deps)` for the
error shape and security headers; `zentrale api serve` builds `create_app(deps)`. Every
router binds DEPS to the request first, so routes find their collaborators without globals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zentrale import __version__
from zentrale.api import routes_admin, routes_auth, routes_recordings, routes_reviews, routes_stats
from zentrale.api.deps import Deps
from zentrale.api.edge import error_body, install_error_handlers

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}

meta = APIRouter(tags=["meta"])


@meta.get("/api/openapi.json", name="openapi", include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    """Return the OpenAPI document of the app serving this request."""
    return request.app.openapi()  # type: ignore[no-any-return]


@meta.get("/api/health", name="health")
async def health() -> dict[str, str]:
    """Say the service answers."""
    return {"status": "ok"}


def _binder(deps: Deps) -> Callable[[Request], Awaitable[None]]:
    async def bind(request: Request) -> None:
        request.state.qa = deps

    return bind


def routers(deps: Deps) -> list[APIRouter]:
    """Return the API and web routers, each binding DEPS to its requests."""
    from zentrale.api.routes_customers import router as customers_api
    from zentrale.api.routes_privacy import router as privacy_api
    from zentrale.api.web.customer_pages import customer_pages
    from zentrale.api.web.pages import pages, public_pages

    parts = [
        meta,
        routes_auth.public,
        routes_auth.router,
        routes_recordings.router,
        routes_reviews.router,
        routes_admin.router,
        routes_stats.router,
        public_pages,
        pages,
        routes_stats.pages,
    ]
    parts += [customers_api, customer_pages]
    parts.append(privacy_api)
    bound = []
    for part in parts:
        outer = APIRouter(dependencies=[Depends(_binder(deps))])
        outer.include_router(part)
        bound.append(outer)
    return bound


def install(app: FastAPI, deps: Deps) -> None:
    """Add the QA service's error handlers, security headers and body limit to APP."""
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=deps.settings.http.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so 413s get the headers too


class SecurityHeaders:
    """Pure ASGI middleware adding SECURITY_HEADERS (it does not buffer streamed audio)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                # API answers carry numbers and customer data: no cache may keep them.
                if api and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Pure ASGI middleware refusing request bodies over MAX_BYTES with 413, before any route
    (or authentication) reads them: by `Content-Length` at once, or while a chunked body
    streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an announced oversized body; count a streamed one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException is what FastAPI passes through from reading a body.
                    raise HTTPException(413, f"the request body is over {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)


def _too_large(max_bytes: int) -> ASGIApp:
    body = error_body("too-large", f"the request body is over {max_bytes} bytes")
    return JSONResponse(body, 413, headers={"Connection": "close", "Cache-Control": "no-store"})


def create_app(deps: Deps, extra: Sequence[APIRouter] = ()) -> FastAPI:
    """Build the standalone QA app (what `zentrale api serve` runs), with EXTRA routers (an
    API replica's live routes, bound already)."""
    app = FastAPI(
        title="zentrale QA API",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        description="Find, hear and score call recordings. See docs/api.md.",
    )
    for router in [*routers(deps), *extra]:
        app.include_router(router)
    install(app, deps)
    return app
