"""What the QA service needs from the outside, built once by the bootstrap and passed down.

`Deps` holds the database, the object store, the key unwrappers, the settings, the clock,
the scorecards and the login limiter. `open_deps(settings)` builds it from the settings for
`zentrale api serve`; the daemon may build its own `Deps` from the parts it already holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from zentrale.api.ratelimit import LoginLimiter
from zentrale.base.clock import utcnow
from zentrale.base.secrets import kept_secret
from zentrale.config.settings import RecipientSettings, Settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.qa.scorecards import Scorecards, load_scorecards
from zentrale.recording.keys.base import KeyUnwrapper
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.storage.local import LocalStore

log = structlog.get_logger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass
class Deps:
    """The QA service's collaborators."""

    db: Database
    store: ObjectStore
    unwrappers: Sequence[KeyUnwrapper]
    settings: Settings
    scorecards: Scorecards
    session_secret: bytes = field(repr=False)
    clock: Clock = utcnow
    limiter: LoginLimiter = field(default_factory=LoginLimiter)

    def __post_init__(self) -> None:
        self.limiter.configure(self.settings.api.login_attempts_per_minute, self.clock)


def session_secret(settings: Settings) -> bytes:
    """Return the secret that signs login-form CSRF tokens (made once if not configured)."""
    secret = kept_secret(settings.state_dir, "session-secret", settings.api.session_secret)
    return secret.get_secret_value().encode()


def unwrappers_from(settings: Settings, identities: Sequence[Path] = ()) -> list[KeyUnwrapper]:
    """Return the keys that open recordings: IDENTITIES, local keyrings, and `x.key.pem`
    files beside configured `x.pub.pem` public keys."""
    found: list[KeyUnwrapper] = [PrivateKeyIdentity.load(path) for path in identities]
    for recipient in settings.keys.recipients:
        found.extend(_unwrapper(recipient))
    return found


def _unwrapper(recipient: RecipientSettings) -> list[KeyUnwrapper]:
    local = recipient.keyring_file
    if recipient.provider == "local" and local is not None and local.is_file():
        return [LocalKeyProvider(Keyring.load(local))]
    if recipient.provider == "public" and recipient.public_key_file is not None:
        private = recipient.public_key_file.with_name(
            recipient.public_key_file.name.replace(".pub.pem", ".key.pem")
        )
        if private != recipient.public_key_file and private.is_file():
            return [PrivateKeyIdentity.load(private)]
    if recipient.provider == "kms" and recipient.kms_key_id:
        return _kms(recipient.kms_key_id)
    return []


def _kms(key_id: str) -> list[KeyUnwrapper]:
    from zentrale.recording.aws import ClientSettings, make_client
    from zentrale.recording.keys.kms import KmsKeyProvider

    return [KmsKeyProvider(make_client("kms", ClientSettings()), key_id)]


def store_from(settings: Settings, stack: contextlib.ExitStack) -> ObjectStore:
    """Return the object store the settings name (S3 clients are closed by STACK)."""
    if settings.storage.kind == "local":
        return LocalStore(settings.storage.path)
    from zentrale.recording.aws import ClientSettings
    from zentrale.recording.storage.s3 import S3Settings, S3Store

    s3 = settings.storage.s3
    client = ClientSettings(
        region=s3.region or "us-east-1", endpoint_url=s3.endpoint_url, checksums=s3.checksums
    )
    store = S3Store.connect(S3Settings(bucket=s3.bucket, prefix=s3.prefix, client=client))
    stack.callback(store.close)
    return store


@contextlib.asynccontextmanager
async def open_deps(
    settings: Settings, identities: Sequence[Path] = (), migrate: bool = True
) -> AsyncIterator[Deps]:
    """Open the database (migrated), storage and keys the settings name; close them after."""
    with contextlib.ExitStack() as stack:
        store = store_from(settings, stack)
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
