"""`zentrale api serve`: the QA service on its own, with uvicorn on a socket bound first."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from zentrale.api.app import create_app
from zentrale.api.deps import open_deps
from zentrale.api.server import bind, serving
from zentrale.config.settings import Settings

log = structlog.get_logger(__name__)


async def serve_forever(
    settings: Settings, host: str | None, port: int | None, identities: Sequence[Path],
    echo: Callable[[str], None],
) -> None:  # fmt: skip
    """Open the dependencies, serve until SIGINT or SIGTERM, then close everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_deps(settings, identities) as deps:
        sock = bind(host or settings.http.host, settings.http.port if port is None else port)
        url = settings.http.url(sock.getsockname()[1])
        async with serving(create_app(deps), sock):
            log.info("api.serving", url=url, keys=len(deps.unwrappers))
            echo(f"QA service at {url}/ (API: {url}/api/openapi.json)")
            await stop.wait()
