"""What the QA service needs from the outside, built once by the bootstrap and passed down.

`Deps` holds the database, the object store, the key unwrappers, the settings, the clock,
the scorecards and the login limiter. The wiring builds it (`zentrale.daemon.qa.open_deps`
for `zentrale api serve`, the daemon from the parts it already holds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from zentrale.api.denials import DenialBudget
from zentrale.api.ratelimit import LoginLimiter, UsedOnce
from zentrale.base.clock import utcnow
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.qa.scorecards import Scorecards
from zentrale.recording.keys.base import KeyUnwrapper
from zentrale.recording.storage.base import ObjectStore

log = structlog.get_logger(__name__)

Clock = Callable[[], dt.datetime]
LOGIN_FORM_LIFETIME = dt.timedelta(hours=1)


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
    denials: DenialBudget = field(default_factory=DenialBudget)
    login_nonces: UsedOnce = field(default_factory=lambda: UsedOnce(LOGIN_FORM_LIFETIME))

    def __post_init__(self) -> None:
        self.limiter.configure(self.settings.api.login_attempts_per_minute, self.clock)
        self.login_nonces.configure(self.clock)
