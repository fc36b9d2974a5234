"""The daemon's ASGI app: whatever routers the wiring hands in, and one error shape."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from zentrale import __version__


def create_app(routers: Iterable[APIRouter]) -> FastAPI:
    """Build the app from ROUTERS (prompts, health, API...)."""
    app = FastAPI(title="zentrale", version=__version__, docs_url=None, redoc_url=None)
    for router in routers:
        app.include_router(router)
    return app
