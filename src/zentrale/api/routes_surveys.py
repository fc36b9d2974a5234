"""API routes for outbound survey campaigns: create, list, show, start and stop.

Supervisors and administrators only (role matrix `campaigns.*`). They exist inside the daemon,
which checks a new campaign's survey against the live routing rules. Every change and every
listing of a campaign's numbers is written to the audit log; numbers are shown masked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.base.errors import ConflictError, InvalidRequestError, NotFoundError, ZentraleError
from zentrale.config.logging import mask_number
from zentrale.core import audit
from zentrale.routing.rules import Rules
from zentrale.surveys.answers import AnswerStore
from zentrale.surveys.models import Campaign
from zentrale.surveys.numbers import NumbersError
from zentrale.surveys.setup import CampaignRequest, prepare
from zentrale.surveys.store import (
    CampaignError,
    CampaignExistsError,
    CampaignNotFoundError,
    CampaignStore,
    Progress,
)
from zentrale.surveys.summary import summarise

router = APIRouter(prefix="/api", tags=["campaigns"])
CampaignName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class CampaignConflictError(ConflictError):
    """A campaign of that name exists, or it cannot move to the state asked for."""

    code = "campaign-conflict"


class CampaignIn(BaseModel):
    """A new campaign: the survey, the numbers as CSV text, hours and limits."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=64)
    survey: str = Field(min_length=1, max_length=64)
    numbers_csv: str = Field(min_length=1, max_length=2_000_000)
    window_from: str = Field(default="09:00", alias="from", max_length=5)
    window_to: str = Field(default="18:00", alias="to", max_length=5)
    days: str = Field(default="mon-fri", max_length=40)
    concurrency: int = 2
    retries: int = 2
    retry_after: str = Field(default="30m", max_length=16)
    ring: str = Field(default="30s", max_length=16)
    language: str | None = Field(default=None, max_length=8)


class CampaignOut(BaseModel):
    """A campaign, its settings and its numbers counted by state."""

    name: str
    survey: str
    state: str
    window: str
    days: str
    concurrency: int
    retries: int
    retry_after_s: int
    ring_s: int
    numbers: dict[str, int]
    calls_placed: int


class TargetOut(BaseModel):
    """One number of a campaign (masked) and how far it got."""

    line: int
    number: str
    state: str
    attempts: int
    last_result: str | None
    last_cause_code: int | None = None
    """The Q.850 cause the last call ended with (17 busy, 19 no answer, 34 congestion...)."""
    last_cause_text: str | None = None
    last_reason: str | None = None
    """Why the last attempt failed on zentrale's side, when it did (state `failed`)."""


class QuestionOut(BaseModel):
    """How one question of the campaign's survey was answered so far."""

    position: int
    question: str
    scale: str
    answered: int
    unanswered: int
    abandoned: int
    mean: float | None
    distribution: dict[int, int]


class CampaignDetailOut(CampaignOut):
    """A campaign with each of its numbers and its results per question."""

    targets: list[TargetOut]
    results: list[QuestionOut]


def _out(progress: Progress) -> CampaignOut:
    c = progress.campaign
    return CampaignOut(
        name=c.name,
        survey=c.survey,
        state=str(c.state),
        window=f"{c.window_from}-{c.window_to}",
        days=c.days,
        concurrency=c.concurrency,
        retries=c.retries,
        retry_after_s=c.retry_after_s,
        ring_s=c.ring_s,
        numbers=progress.counts,
        calls_placed=progress.attempts,
    )


def _store(request: Request) -> CampaignStore:
    deps = deps_of(request)
    return CampaignStore(deps.db, deps.clock)


def _api_error(exc: CampaignError | NumbersError) -> ZentraleError:
    if isinstance(exc, CampaignNotFoundError):
        return NotFoundError(str(exc))
    if isinstance(exc, CampaignExistsError):
        return CampaignConflictError(str(exc))
    return InvalidRequestError(str(exc))


async def _audit(caller: Caller, request: Request, action: str, campaign: str) -> None:
    deps = deps_of(request)
    event = audit.Event(action, target=f"campaign:{campaign}")
    await audit.record(deps.db, caller.actor, event, deps.clock())


@router.get("/campaigns", name="campaigns.list", response_model=list[CampaignOut])
async def list_campaigns(caller: Caller, request: Request) -> list[CampaignOut]:
    """List every campaign with its progress."""
    store = _store(request)
    return [_out(await store.progress(found.name)) for found in await store.all()]


@router.post("/campaigns", name="campaigns.create", response_model=CampaignOut, status_code=201)
async def create_campaign(caller: Caller, request: Request, body: CampaignIn) -> CampaignOut:
    """Create a campaign from CSV numbers (not started yet)."""
    asked = CampaignRequest(
        name=body.name,
        survey=body.survey,
        numbers_csv=body.numbers_csv,
        numbers_source="numbers_csv",
        window_from=body.window_from,
        window_to=body.window_to,
        days=body.days,
        concurrency=body.concurrency,
        retries=body.retries,
        retry_after=body.retry_after,
        ring=body.ring,
        language=body.language,
        created_by=caller.username,
    )
    store = _store(request)
    try:
        new, listed = prepare(asked, request.state.campaign_rules())
        await store.create(new, listed)
        progress = await store.progress(body.name)
    except (CampaignError, NumbersError) as exc:
        raise _api_error(exc) from None
    await _audit(caller, request, "campaign.create", body.name)
    return _out(progress)


@router.get("/campaigns/{name}", name="campaigns.show", response_model=CampaignDetailOut)
async def show_campaign(caller: Caller, request: Request, name: CampaignName) -> CampaignDetailOut:
    """Show a campaign: each number (masked), its state and attempts, results per question."""
    store = _store(request)
    try:
        progress = await store.progress(name)
    except CampaignError as exc:
        raise _api_error(exc) from None
    targets = [
        TargetOut(
            line=t.line,
            number=mask_number(t.number),
            state=str(t.state),
            attempts=t.attempts,
            last_result=t.last_result and str(t.last_result),
            last_cause_code=t.last_cause_code,
            last_cause_text=t.last_cause_text,
            last_reason=t.last_reason,
        )
        for t in await store.numbers(progress.campaign.id)
    ]
    answers = await AnswerStore(deps_of(request).db).for_campaign(progress.campaign.id)
    results = [
        QuestionOut(
            position=q.position,
            question=q.question,
            scale=q.scale,
            answered=q.answered,
            unanswered=q.unanswered,
            abandoned=q.abandoned,
            mean=q.mean,
            distribution=q.distribution,
        )
        for q in summarise(answers)
    ]
    await _audit(caller, request, "campaign.show", name)
    return CampaignDetailOut(**_out(progress).model_dump(), targets=targets, results=results)


@router.post("/campaigns/{name}/start", name="campaigns.start", response_model=CampaignOut)
async def start_campaign(caller: Caller, request: Request, name: CampaignName) -> CampaignOut:
    """Start (or resume) a campaign: the daemon calls within its hours."""
    return await _move(caller, request, name, "start")


@router.post("/campaigns/{name}/stop", name="campaigns.stop", response_model=CampaignOut)
async def stop_campaign(caller: Caller, request: Request, name: CampaignName) -> CampaignOut:
    """Stop a campaign: no new calls; calls in progress finish."""
    return await _move(caller, request, name, "stop")


async def _move(caller: Caller, request: Request, name: str, how: str) -> CampaignOut:
    store = _store(request)
    try:
        campaign: Campaign = await (store.start(name) if how == "start" else store.stop(name))
        progress = await store.progress(campaign.name)
    except CampaignNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except CampaignError as exc:
        raise CampaignConflictError(str(exc)) from None
    await _audit(caller, request, f"campaign.{how}", name)
    return _out(progress)


def campaigns_routers(rules: Callable[[], Rules], deps: Deps) -> list[APIRouter]:
    """Return the campaign routes, binding the live RULES (and the QA DEPS) to each request."""
    outer = APIRouter(dependencies=[Depends(_binder(rules, deps))])
    outer.include_router(router)
    return [outer]


def _binder(rules: Callable[[], Rules], deps: Deps) -> Callable[[Request], Awaitable[None]]:
    async def bind(request: Request) -> None:
        request.state.campaign_rules = rules
        request.state.qa = deps

    return bind
