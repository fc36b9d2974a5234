"""The QA service's dependencies opened from the settings, and the service run on its own.

`zentrale api serve` opens them (`daemon.replica.serve_forever`); the daemon builds its `Deps`
from the parts it already holds, with the same `session_secret`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import structlog

from zentrale.api.deps import Deps
from zentrale.base.secrets import kept_secret
from zentrale.config.settings import Settings
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
