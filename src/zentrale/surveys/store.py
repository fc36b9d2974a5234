"""`CampaignStore`: outbound campaigns, their numbers and attempts in the database.

The database is the campaign's memory: the daemon keeps no list of its own, so stopping,
starting (from the CLI, the API or another node) and a daemon restart all act through here.
A number is claimed with one conditional UPDATE, so it is never dialled by two runners.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from zentrale.base.clock import Clock, utcnow
from zentrale.base.errors import ZentraleError
from zentrale.db.session import Database
from zentrale.surveys.models import (
    AttemptResult,
    Campaign,
    CampaignAttempt,
    CampaignState,
    CampaignTarget,
    TargetState,
)
from zentrale.surveys.numbers import Listed
from zentrale.surveys.schedule import DUE_STATES, TargetView, Window, format_days


class CampaignError(ZentraleError, ValueError):
    """A campaign request that cannot be carried out (the message says why)."""

    code = "campaign-invalid"


class CampaignNotFoundError(CampaignError):
    """No campaign has that name."""

    code = "campaign-not-found"


class CampaignExistsError(CampaignError):
    """A campaign with that name exists already."""

    code = "campaign-exists"


@dataclass(frozen=True, slots=True)
class NewCampaign:
    """A campaign as created from the CLI or API (numbers already checked)."""

    name: str
    survey: str
    window: Window
    concurrency: int
    retries: int
    retry_after: dt.timedelta
    ring: dt.timedelta = dt.timedelta(seconds=30)
    language: str | None = None
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign and how many of its numbers are in each state."""

    campaign: Campaign
    counts: dict[str, int]
    attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    """A number claimed for one call: the attempt row written for it."""

    attempt_id: str
    target_id: str
    number: str
    attempt: int
    call_id: str


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """Why an attempt ended: the Q.850 cause (code and Asterisk's text), or zentrale's reason."""

    cause_code: int | None = None
    cause_text: str | None = None
    reason: str | None = None


CAMPAIGN_STARTED: set[Callable[[], None]] = set()
"""Called whenever a store of this process made a campaign active: the daemon's campaign
runner, which looks at the database only every few seconds while no campaign runs, then looks
at once (a campaign started on another node waits for its next look)."""


class CampaignStore:
    """Campaigns, their numbers and every call placed to them."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def create(self, new: NewCampaign, numbers: Sequence[Listed]) -> Campaign:
        """Create a campaign (state draft) with its numbers."""
        now = self._clock()
        campaign = Campaign(
            id=str(uuid.uuid4()),
            name=new.name,
            survey=new.survey,
            state=CampaignState.DRAFT,
            window_from=_hhmm(new.window.start),
            window_to=_hhmm(new.window.end),
            days=format_days(new.window.days),
            concurrency=new.concurrency,
            retries=new.retries,
            retry_after_s=int(new.retry_after.total_seconds()),
            ring_s=int(new.ring.total_seconds()),
            language=new.language,
            created_by=new.created_by,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.write() as session:
                session.add(campaign)
                await session.flush()
                await session.execute(
                    insert(CampaignTarget), [_target(campaign.id, one, now) for one in numbers]
                )
        except IntegrityError:
            raise CampaignExistsError(f"a campaign named '{new.name}' exists already") from None
        return campaign

    async def get(self, name: str) -> Campaign:
        """Return the campaign called NAME, or raise CampaignNotFoundError."""
        async with self._db.read() as session:
            found = await session.scalar(select(Campaign).where(Campaign.name == name))
        if found is None:
            raise CampaignNotFoundError(f"no campaign named '{name}'")
        return found

    async def all(self) -> list[Campaign]:
        """Return every campaign, newest first."""
        async with self._db.read() as session:
            query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.name)
            return list(await session.scalars(query))

    async def active(self) -> list[Campaign]:
        """Return the campaigns the daemon runs."""
        async with self._db.read() as session:
            query = select(Campaign).where(Campaign.state == CampaignState.ACTIVE)
            return list(await session.scalars(query.order_by(Campaign.created_at)))

    async def progress(self, name: str) -> Progress:
        """Return campaign NAME with its numbers counted by state."""
        campaign = await self.get(name)
        async with self._db.read() as session:
            rows = await session.execute(
                select(CampaignTarget.state, func.count())
                .where(CampaignTarget.campaign_id == campaign.id)
                .group_by(CampaignTarget.state)
            )
            attempts = await session.scalar(
                select(func.count()).where(CampaignAttempt.campaign_id == campaign.id)
            )
        counts = Counter({str(state): 0 for state in TargetState})
        counts.update({str(state): count for state, count in rows.tuples()})
        return Progress(campaign, dict(counts), attempts or 0)

    async def start(self, name: str) -> Campaign:
        """Make campaign NAME active (from draft or stopped)."""
        campaign = await self._move(
            name, CampaignState.ACTIVE, {CampaignState.DRAFT, CampaignState.STOPPED}
        )
        if campaign.state == CampaignState.ACTIVE:
            for wake in list(CAMPAIGN_STARTED):
                wake()
        return campaign

    async def stop(self, name: str) -> Campaign:
        """Stop campaign NAME: no new calls (calls in progress finish)."""
        return await self._move(
            name, CampaignState.STOPPED, {CampaignState.ACTIVE, CampaignState.DRAFT}
        )

    async def _move(self, name: str, to: CampaignState, sources: set[CampaignState]) -> Campaign:
        campaign = await self.get(name)
        if campaign.state == to:
            return campaign
        if campaign.state not in sources:
            raise CampaignError(f"campaign '{name}' is {campaign.state}; it cannot become {to}")
        async with self._db.write() as session:
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id, Campaign.state.in_(sources))
                .values(state=to, updated_at=self._clock())
            )
        return await self.get(name)

    async def targets(self, campaign_id: str) -> list[TargetView]:
        """Return what the scheduler needs of each number of a campaign."""
        query = select(
            CampaignTarget.id,
            CampaignTarget.line,
            CampaignTarget.state,
            CampaignTarget.next_attempt_at,
        ).where(CampaignTarget.campaign_id == campaign_id)
        async with self._db.read() as session:
            rows = (await session.execute(query)).tuples()
            return [
                TargetView(id=id, line=line, state=state, next_attempt_at=at)
                for id, line, state, at in rows
            ]

    async def candidates(self, campaign_id: str, now: dt.datetime, limit: int) -> list[TargetView]:
        """Return up to LIMIT numbers due at NOW: new ones in file order, then retries by time."""
        # Two index range scans (campaign, state, line / next attempt), not a sort of them all.
        fresh = self._due(campaign_id, TargetState.PENDING).order_by(CampaignTarget.line)
        retries = (
            self._due(campaign_id, TargetState.RETRY)
            .where(CampaignTarget.next_attempt_at <= now)
            .order_by(CampaignTarget.next_attempt_at, CampaignTarget.line)
        )
        found: list[TargetView] = []
        async with self._db.read() as session:
            for query in (fresh, retries):
                if len(found) < limit:
                    rows = (await session.execute(query.limit(limit - len(found)))).tuples()
                    found += [
                        TargetView(id=id, line=line, state=state, next_attempt_at=at)
                        for id, line, state, at in rows
                    ]
        return found

    @staticmethod
    def _due(
        campaign_id: str, state: TargetState
    ) -> Select[tuple[str, int, TargetState, dt.datetime | None]]:
        return select(
            CampaignTarget.id,
            CampaignTarget.line,
            CampaignTarget.state,
            CampaignTarget.next_attempt_at,
        ).where(CampaignTarget.campaign_id == campaign_id, CampaignTarget.state == state)

    async def has_open_numbers(self, campaign_id: str) -> bool:
        """Tell whether any number is still to be called (neither done nor out of retries)."""
        query = select(
            exists().where(
                CampaignTarget.campaign_id == campaign_id,
                CampaignTarget.state.in_((*DUE_STATES, TargetState.CALLING)),
            )
        )
        async with self._db.read() as session:
            return bool(await session.scalar(query))

    async def numbers(self, campaign_id: str) -> list[CampaignTarget]:
        """Return a campaign's numbers in file order."""
        query = select(CampaignTarget).where(CampaignTarget.campaign_id == campaign_id)
        async with self._db.read() as session:
            return list(await session.scalars(query.order_by(CampaignTarget.line)))

    async def attempts(self, campaign_id: str) -> list[CampaignAttempt]:
        """Return every call placed for a campaign, in order."""
        query = select(CampaignAttempt).where(CampaignAttempt.campaign_id == campaign_id)
        async with self._db.read() as session:
            return list(
                await session.scalars(
                    query.order_by(CampaignAttempt.started_at, CampaignAttempt.attempt)
                )
            )

    async def claim(self, campaign_id: str, target_id: str, now: dt.datetime) -> Claim | None:
        """Mark a due number as being called and write its attempt; None if taken meanwhile."""
        call_id = uuid.uuid4().hex
        async with self._db.write() as session:
            bumped = await session.execute(
                update(CampaignTarget)
                .where(CampaignTarget.id == target_id, CampaignTarget.state.in_(DUE_STATES))
                .values(
                    state=TargetState.CALLING,
                    attempts=CampaignTarget.attempts + 1,
                    last_call_id=call_id,
                    updated_at=now,
                )
                .returning(CampaignTarget.attempts, CampaignTarget.number)
            )
            row = bumped.one_or_none()
            if row is None:
                return None
            attempt, number = row
            claim = Claim(
                attempt_id=str(uuid.uuid4()),
                target_id=target_id,
                number=number,
                attempt=attempt,
                call_id=call_id,
            )
            session.add(
                CampaignAttempt(
                    id=claim.attempt_id,
                    campaign_id=campaign_id,
                    target_id=target_id,
                    attempt=attempt,
                    call_id=call_id,
                    started_at=now,
                )
            )
        return claim

    async def settle(
        self,
        claim: Claim,
        result: AttemptResult,
        state: TargetState,
        next_at: dt.datetime | None,
        now: dt.datetime,
        end: AttemptEnd | None = None,
    ) -> None:
        """Record how an attempt went (its cause, or the reason it failed: END) and what its
        number does next."""
        end = end or AttemptEnd()
        cause = {"cause_code": end.cause_code, "cause_text": end.cause_text}
        async with self._db.write() as session:
            await session.execute(
                update(CampaignAttempt)
                .where(CampaignAttempt.id == claim.attempt_id)
                .values(result=result, ended_at=now, **cause)
            )
            await session.execute(
                update(CampaignTarget)
                .where(CampaignTarget.id == claim.target_id)
                .values(
                    state=state,
                    last_result=result,
                    next_attempt_at=next_at,
                    updated_at=now,
                    last_cause_code=end.cause_code,
                    last_cause_text=end.cause_text,
                    last_reason=end.reason and end.reason[:300],
                )
            )

    async def interrupted(self, campaign_id: str) -> list[Claim]:
        """Return the attempts left ringing when the daemon stopped (to settle at start)."""
        query = (
            select(CampaignAttempt, CampaignTarget.number)
            .join(CampaignTarget, CampaignTarget.id == CampaignAttempt.target_id)
            .where(
                CampaignAttempt.campaign_id == campaign_id,
                CampaignAttempt.result.is_(None),
                CampaignTarget.state == TargetState.CALLING,
            )
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).tuples()
            return [
                Claim(
                    attempt_id=a.id,
                    target_id=a.target_id,
                    number=number,
                    attempt=a.attempt,
                    call_id=a.call_id,
                )
                for a, number in rows
            ]

    async def finish(self, campaign_id: str) -> None:
        """Mark an active campaign finished (every number done or exhausted)."""
        async with self._db.write() as session:
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.state == CampaignState.ACTIVE)
                .values(state=CampaignState.FINISHED, updated_at=self._clock())
            )


def _target(campaign_id: str, listed: Listed, now: dt.datetime) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "campaign_id": campaign_id,
        "line": listed.line,
        "number": listed.number,
        "state": TargetState.PENDING,
        "attempts": 0,
        "updated_at": now,
    }


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def window_of(campaign: Campaign) -> Window:
    """Return a stored campaign's calling hours."""
    return Window.parse(campaign.window_from, campaign.window_to, campaign.days)
