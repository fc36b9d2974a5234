"""Call scripts, articles and completing the caller's record in the agent's workspace.

The supervisors' scripts and articles (`zentrale.knowledge`, docs/knowledge.md) are served to
the workspace inside the daemon: the script of the department a call came through, with the
caller's record filled in (empty fields shown as an ask), and a search over the articles of the
user's departments. During the call the agent completes the caller's record; that goes through
the customer rules (`routes_customers.CustomerAccess`: agents fill empty fields and add numbers,
never overwrite) and only for a call this agent answered, and is audited with the names of the
fields changed and masked numbers, never the values. Script views are audited too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from zentrale.api.auth import Caller, deps_of
from zentrale.api.deps import Deps
from zentrale.api.routes_customers import CustomerAccess, Email, PhoneNumber
from zentrale.api.text import NO_NUL
from zentrale.api.web.render import language
from zentrale.api.workspace import bind_center, center_of, live_of
from zentrale.base.errors import ForbiddenError, InvalidRequestError
from zentrale.calls.errors import CallNotFoundError
from zentrale.calls.models import Call
from zentrale.core import audit
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.customers import store as customers
from zentrale.customers.store import Changes, CustomerRecord, NewCustomer
from zentrale.knowledge.documents import Document
from zentrale.knowledge.errors import ArticleNotFoundError, NoScriptError
from zentrale.knowledge.reload import KnowledgeReloader
from zentrale.knowledge.render import render_article, render_script
from zentrale.knowledge.search import search, visible
from zentrale.ops.live import LiveNodes
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.transfer import NotOnCallError

router = APIRouter(tags=["knowledge"])
CallId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
ArticleId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class ScriptOut(BaseModel):
    """A department's call script, filled in for one call."""

    call_id: str
    department: str
    id: str
    title: str
    language: str | None
    version: str
    html: str
    missing: list[str]


class ArticleHitOut(BaseModel):
    """An article found by a search."""

    id: str
    title: str
    tags: list[str]
    departments: list[str]
    snippet: str


class ArticleOut(BaseModel):
    """An article, rendered."""

    id: str
    title: str
    tags: list[str]
    departments: list[str]
    language: str | None
    version: str
    html: str


class CallCustomerIn(BaseModel):
    """Fields of the caller's record to complete (sent ones only) and numbers to add."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=128, pattern=NO_NUL)
    customer_number: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    language: str | None = Field(default=None, max_length=16, pattern=NO_NUL)
    email: Email = None
    notes: str | None = Field(default=None, max_length=4000, pattern=NO_NUL)
    add_numbers: list[PhoneNumber] = Field(default_factory=list, max_length=5)


class CallCustomerOut(BaseModel):
    """The caller's record after the change; `missing` lists what is still empty."""

    id: str
    name: str | None
    customer_number: str | None
    language: str | None
    email: str | None
    vip: bool
    numbers: list[str]
    missing: list[str]

    @classmethod
    def of(cls, record: CustomerRecord) -> CallCustomerOut:
        """Build from a store record."""
        return cls(
            id=record.id,
            name=record.name,
            customer_number=record.customer_number,
            language=record.language,
            email=record.email,
            vip=record.vip,
            numbers=list(record.numbers),
            missing=list(record.missing),
        )


@dataclass(frozen=True, slots=True)
class AgentsCall:
    """A call of the signed-in agent: ringing their phone now, or answered by them."""

    call_id: str
    department: str | None
    caller: str | None
    answered: bool


def _knowledge(request: Request) -> KnowledgeReloader:
    reloader: KnowledgeReloader = request.state.knowledge
    return reloader


def _departments(caller: Principal) -> tuple[str, ...] | None:
    """The departments whose articles CALLER may open (None: all, for administrators)."""
    return None if caller.role is Role.ADMIN else tuple(caller.departments)


async def agents_call(request: Request, caller: Principal, call_id: str) -> AgentsCall:
    """Return CALL_ID if it rings the signed-in agent now or they answered it; else 404."""
    endpoint = caller.agent_endpoint
    if endpoint is None:
        raise ForbiddenError("this agent account has no phone (agent_endpoint) set")
    live = live_of(request)
    ringing = [center_of(request).services.pops] + ([live.pops] if live is not None else [])
    for pops in ringing:  # here, or another node's
        pop = pops.ringing(endpoint)
        if pop is not None and pop.call_id == call_id:
            return AgentsCall(call_id, pop.department, pop.caller, answered=False)
    with contextlib.suppress(NotOnCallError):
        # Connected here now: its row may not show the agent yet (the journal writes in
        # batches), and an agent completing the record right after answering is no mistake.
        here = center_of(request).call_of(endpoint)
        if here.id == call_id:
            return AgentsCall(call_id, here.department, here.caller or None, answered=True)
    async with deps_of(request).db.read() as session:
        query = select(Call).where(Call.id == call_id, Call.agent_endpoint == endpoint)
        row = (await session.scalars(query)).first()
    if row is None:
        raise CallNotFoundError(call_id)
    return AgentsCall(call_id, row.department, customers.customer_side(row), answered=True)


@router.get("/api/agent/calls/{call_id}/script", name="knowledge.script", response_model=ScriptOut)
async def call_script(caller: Caller, request: Request, call_id: CallId) -> ScriptOut:
    """The script of the call's department, with the caller's record filled in."""
    call = await agents_call(request, caller, call_id)
    knowledge = _knowledge(request).current
    deps = deps_of(request)
    async with deps.db.write() as session:
        record = await customers.by_number(session, call.caller) if call.caller else None
        script = knowledge.script_for(call.department or "", record.language if record else None)
        if script is None:
            raise NoScriptError(call.department or "")
        detail = {"script": script.id, "version": knowledge.version}
        event = audit.Event("knowledge.script", target=f"call:{call_id}", detail=detail)
        await audit.append(session, caller.actor, event, deps.clock())
    values = _values(record, call, caller)
    return ScriptOut(
        call_id=call_id,
        department=call.department or "",
        id=script.id,
        title=script.title,
        language=script.language,
        version=knowledge.version,
        html=render_script(script, values, language(request)),
        missing=list(record.missing) if record else list(customers.COMPLETABLE),
    )


def _values(record: CustomerRecord | None, call: AgentsCall, caller: Principal) -> dict[str, str]:
    values = {"caller": call.caller or "", "department": call.department or ""}
    values["agent.name"] = caller.display_name
    if record is not None:
        values["customer.name"] = record.name or ""
        values["customer.customer_number"] = record.customer_number or ""
        values["customer.language"] = record.language or ""
        values["customer.numbers"] = ", ".join(record.numbers)
    return values


@router.get(
    "/api/knowledge/articles", name="knowledge.articles", response_model=list[ArticleHitOut]
)
async def find_articles(
    caller: Caller,
    request: Request,
    q: Annotated[str, Query(max_length=200, pattern=NO_NUL)] = "",
) -> list[ArticleHitOut]:
    """Articles of the user's departments whose title, tags or text hold every word of `q`."""
    hits = search(_knowledge(request).current, q, _departments(caller))
    return [
        ArticleHitOut(
            id=hit.article.id,
            title=hit.article.title,
            tags=list(hit.article.tags),
            departments=list(hit.article.departments),
            snippet=hit.snippet,
        )
        for hit in hits
    ]


@router.get(
    "/api/knowledge/articles/{article_id}", name="knowledge.article", response_model=ArticleOut
)
async def open_article(caller: Caller, request: Request, article_id: ArticleId) -> ArticleOut:
    """One article of the user's departments, rendered (no raw HTML)."""
    knowledge = _knowledge(request).current
    article = knowledge.article(article_id)
    if not visible(article, _departments(caller)):
        raise ArticleNotFoundError(article_id)  # as for none: its existence is not told
    return _article_out(article, knowledge.version)


def _article_out(article: Document, version: str) -> ArticleOut:
    return ArticleOut(
        id=article.id,
        title=article.title,
        tags=list(article.tags),
        departments=list(article.departments),
        language=article.language,
        version=version,
        html=render_article(article),
    )


@router.get("/api/knowledge", name="knowledge.status")
async def knowledge_status(caller: Caller, request: Request) -> dict[str, object]:
    """The live set's version, when it was applied, and the errors of a refused change."""
    return _knowledge(request).status()


@router.patch(
    "/api/agent/calls/{call_id}/customer",
    name="knowledge.complete_customer",
    response_model=CallCustomerOut,
)
async def complete_customer(
    caller: Caller, request: Request, call_id: CallId, body: CallCustomerIn
) -> CallCustomerOut:
    """Complete the record of the caller of a call the agent answered (a new one if none)."""
    call = await agents_call(request, caller, call_id)
    if not call.answered or call.caller is None:
        raise InvalidRequestError("answer the call first: a record is completed during the call")
    fields = body.model_dump(exclude_unset=True, exclude={"add_numbers"})
    deps = deps_of(request)
    async with deps.db.write() as session:
        access = CustomerAccess(session, caller, deps.clock())
        record = await customers.by_number(session, call.caller)
        if record is None:
            numbers = [call.caller, *body.add_numbers]
            record = await access.create(NewCustomer(numbers=numbers, **fields))
        else:
            record = await access.update(record.id, Changes(fields, tuple(body.add_numbers)))
    return CallCustomerOut.of(record)


def knowledge_routers(
    center: CallCenter, deps: Deps, knowledge: KnowledgeReloader, live: LiveNodes | None = None
) -> list[APIRouter]:
    """Return the routes, binding CENTER, the QA service's DEPS, KNOWLEDGE and the other nodes'
    LIVE rows (an agent rung by another node) to each request."""
    bind = bind_center(center, deps, knowledge=knowledge, live=live)
    outer = APIRouter(dependencies=[Depends(bind)])
    outer.include_router(router)
    return [outer]
