"""The QA service's dependencies opened from the settings, and the service run on its own.

`zentrale api serve` runs `serve_forever`; the daemon builds its `Deps` from the parts it
already holds, with the same `session_secret`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import structlog

from zentrale.api.app import create_app
from zentrale.api.deps import Deps
from zentrale.api.server import bind, serving
from zentrale.base.secrets import kept_secret
from zentrale.config.settings import Settings
from zentrale.core import anchor
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.qa.scorecards import load_scorecards
from zentrale.recording.setup import object_store, unwrappers_from

log = structlog.get_logger(__name__)


def session_secret(settings: Settings) -> bytes:
    """Return the secret that signs login-form CSRF tokens (made once if not configured)."""
    secret = kept_secret(settings.state_dir, "session-secret", settings.api.session_secret)
    return secret.get_secret_value().encode()


@contextlib.asynccontextmanager
async def open_deps(
    settings: Settings, identities: Sequence[Path] = (), migrate: bool = True
) -> AsyncIterator[Deps]:
    """Open the database (migrated), storage and keys the settings name; close them after."""
    with object_store(settings) as store:
        async with Database.open(settings.database.url) as db:
            if migrate:
                await upgrade_engine(db.engine)
            yield Deps(
                db=db,
                store=store,
                unwrappers=unwrappers_from(settings, identities),
                settings=settings,
                scorecards=load_scorecards(settings.api.scorecards_file),
                session_secret=session_secret(settings),
            )


async def serve_forever(
    settings: Settings,
    host: str | None,
    port: int | None,
    identities: Sequence[Path],
    echo: Callable[[str], None],
) -> None:
    """Open the dependencies, serve until SIGINT or SIGTERM, then close everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_deps(settings, identities) as deps:
        sock = bind(host or settings.http.host, settings.http.port if port is None else port)
        url = settings.http.url(sock.getsockname()[1])
        anchoring = asyncio.create_task(
            anchor.checkpoints_running(
                deps.db,
                deps.store,
                anchor.anchor_key(settings),
                settings.audit.checkpoint_interval,
                deps.clock,
                settings.audit.checkpoint_retention_days,
            ),
            name="audit-checkpoints",
        )
        try:
            async with serving(create_app(deps), sock, settings.http.trusted_proxies):
                log.info("api.serving", url=url, keys=len(deps.unwrappers))
                echo(f"QA service at {url}/ (API: {url}/api/openapi.json)")
                await stop.wait()
        finally:
            anchoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await anchoring
