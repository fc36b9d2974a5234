"""Refused requests of signed-in users go to the audit log, without letting anyone flood it.

A role refusal (403 `forbidden`), a missing CSRF token (403 `csrf-failed`) and a record
outside the user's scope (404, answered like an unknown id, so probing for ids shows here) are
written as `access.denied` with the route, the method, the path (at most 200 characters,
numbers masked like every entry) and the code. Failed sign-ins
have their own action (`auth.login_failed`); requests without valid credentials (401) are not
entered, since anyone can send them by the million: they are logged.

Flooding: each user gets `PER_MINUTE` entries a sliding minute; refusals beyond it are counted
and the next entry written carries that count as `suppressed`. A log line is written for every
refusal. The count is in memory per process, like the sign-in limit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from dataclasses import dataclass, field

import structlog

from zentrale.core import audit
from zentrale.core.principal import Principal
from zentrale.db.session import Database

log = structlog.get_logger(__name__)

PER_MINUTE = 20
WINDOW = dt.timedelta(minutes=1)
MAX_PATH = 200
AUDITED_STATUSES = frozenset({403, 404})


@dataclass
class DenialBudget:
    """How many refusals of each user may still be entered this minute, and how many were not."""

    per_minute: int = PER_MINUTE
    _written: defaultdict[str, deque[dt.datetime]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _suppressed: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def take(self, user_id: str, now: dt.datetime) -> int | None:
        """Return the refusals suppressed before this one if it may be entered, else None."""
        times = self._written[user_id]
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) >= self.per_minute:
            self._suppressed[user_id] += 1
            return None
        times.append(now)
        return self._suppressed.pop(user_id, 0)


@dataclass(frozen=True, slots=True)
class Denial:
    """One refused request."""

    route: str
    method: str
    path: str
    status: int
    code: str


async def record_denial(
    db: Database, budget: DenialBudget, principal: Principal, denial: Denial, now: dt.datetime
) -> None:
    """Log the refusal, and enter it in the audit log if the user's budget allows."""
    log.info(
        "api.denied",
        user=principal.username,
        route=denial.route,
        status=denial.status,
        code=denial.code,
    )
    suppressed = budget.take(principal.user_id, now)
    if suppressed is None:
        return
    detail: dict[str, object] = {
        "route": denial.route,
        "method": denial.method,
        "status": denial.status,
        "code": denial.code,
    }
    if suppressed:
        detail["suppressed"] = suppressed
    event = audit.Event("access.denied", target=denial.path[:MAX_PATH], detail=detail)
    await audit.record(db, principal.actor, event, now)
