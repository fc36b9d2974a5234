"""The daemon: the one place that builds every long-lived part and wires them together.

`Daemon.running(settings)` opens the database (migrating it to the current schema), starts the
call journal, loads and watches the routing rules, connects to Asterisk over ARI and hands every
call to the call centre; leaving the block drains calls, flushes the journal and closes all in
reverse order. Nothing here does I/O at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx
import structlog
from fastapi import APIRouter, FastAPI

from zentrale.api.app import install
from zentrale.api.app import routers as qa_routers
from zentrale.api.asgi import create_app
from zentrale.api.deps import Deps
from zentrale.api.routes_agent import agent_routers
from zentrale.api.routes_agent_recording import recording_routers
from zentrale.api.routes_calls import calls_routers
from zentrale.api.routes_knowledge import knowledge_routers
from zentrale.api.routes_prompts import prompts_base_url, prompts_router
from zentrale.api.routes_supervise import supervise_routers
from zentrale.api.routes_surveys import campaigns_routers
from zentrale.api.routes_transfer import transfer_routers
from zentrale.api.routes_wallboard import wallboard_routers
from zentrale.api.routes_wrapup import wrapup_routers
from zentrale.api.server import bind, serving
from zentrale.base.clock import Clock, utcnow
from zentrale.base.secrets import kept_secret
from zentrale.calls.store import CallStore
from zentrale.config.settings import Settings
from zentrale.core import anchor
from zentrale.customers.lookup import CustomerLookup
from zentrale.daemon.live import live_running
from zentrale.daemon.ops import Ops, operations
from zentrale.daemon.qa import session_secret
from zentrale.daemon.rules import (
    departments_of,
    knowledge_watched,
    live_rules,
    rules_watched,
    wallboard_of,
)
from zentrale.db.session import Database
from zentrale.knowledge.reload import KnowledgeReloader
from zentrale.migrations import upgrade_engine
from zentrale.ops.drain import drain
from zentrale.ops.journal import CountingJournal
from zentrale.ops.live import LiveNodes
from zentrale.ops.metrics import Metrics
from zentrale.ops.nodes import recording_source
from zentrale.privacy.schedule import PurgeSchedule, purge_running
from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.watch import PromptWatch
from zentrale.qa.scorecards import load_scorecards
from zentrale.recording.bell import JobBell
from zentrale.recording.setup import object_store, pipeline_running, unwrappers_from
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerPool
from zentrale.routing.reload import ReloadOutcome, RulesReloader
from zentrale.routing.rules import Rules
from zentrale.surveys.answers import AnswerStore
from zentrale.surveys.store import CampaignStore
from zentrale.telephony.agent_log import AgentLog
from zentrale.telephony.ari import AriClient, AriOptions, CredentialsLike, ReloadingCredentials
from zentrale.telephony.ari.models import Bridge, Channel
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.callbacks import CallbackRunner, owner_id
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.campaigns import CampaignRunner
from zentrale.telephony.context import Services
from zentrale.telephony.journal import Journal
from zentrale.telephony.phones import PhoneBook, push_all
from zentrale.telephony.queueing import Queues
from zentrale.telephony.trunk_sip import push_trunks

log = structlog.get_logger(__name__)


@dataclass
class Daemon:
    """The running parts of one zentrale node."""

    settings: Settings
    db: Database
    journal: Journal
    rules: RulesReloader
    ari: AriClient
    center: CallCenter
    board: AgentBoard
    http_url: str | None
    pipeline: WorkerPool | None = None
    prompts: PromptWatch | None = None
    ops: Ops | None = None
    campaigns: CampaignRunner | None = None
    purge: PurgeSchedule | None = None
    knowledge: KnowledgeReloader | None = None
    callbacks: CallbackRunner | None = None

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: Settings,
        credentials: CredentialsLike | None = None,
        media: Callable[[str], str] | None = None,
        drain_seconds: float = 30.0,
        clock: Callable[[], dt.datetime] | None = None,
        drain_recordings: bool = False,
    ) -> AsyncIterator[Daemon]:
        """Start every part; on exit drain calls for up to DRAIN_SECONDS and stop.

        With DRAIN_RECORDINGS (`zentrale run`) the same limit also covers storing the
        recordings of this node's calls before the workers stop.
        """
        async with contextlib.AsyncExitStack() as stack:
            db = await _database(settings, stack)
            bell = JobBell()  # the journal rings it when it queues a recording's job
            journal = _journal(db, stack, bell)
            rules = await rules_watched(settings, stack)
            knowledge = await knowledge_watched(settings, rules, stack)
            credentials = credentials or ari_credentials(settings)
            ari = AriClient(credentials, _options(settings))
            board = AgentBoard()
            _log_agents(settings, journal, board, stack)
            web = _Web.bound(settings)
            services = _services(
                settings=settings,
                ari=ari,
                journal=journal,
                db=db,
                board=board,
                web=web,
                media=media,
                clock=clock,
            )
            _push_phones(settings, services.ari)  # before the call centre looks at presence
            center = _call_center(settings=settings, services=services, rules=rules, db=db)
            watch = _watch_prompts(settings, credentials, rules, ari)
            # The pipeline first: it makes a development keyring the QA service then reads.
            pipeline = await stack.enter_async_context(
                pipeline_running(
                    settings, db, await recording_source(settings, db, ari, stack), bell=bell
                )
            )
            _anchoring(settings, db, stack, clock or utcnow)
            purge = await _purging(settings, db, stack, clock or utcnow)
            ops = await stack.enter_async_context(
                operations(
                    settings=settings,
                    db=db,
                    ari=ari,
                    rules=rules,
                    center=center,
                    journal=journal,
                    pool=pipeline,
                )
            )
            web.routers.append(ops.router)
            live = await stack.enter_async_context(
                live_running(settings, center, departments_of(rules), web.url)
            )
            await web.serve(
                live=live,
                settings=settings,
                db=db,
                center=center,
                rules=rules,
                stack=stack,
                knowledge=knowledge,
            )
            await stack.enter_async_context(ari)
            node = settings.node if drain_recordings else None
            stack.push_async_callback(drain, center, journal, db, node, drain_seconds)
            campaigns = _campaigns(services, db, rules, center, stack, drain_seconds)
            callbacks = _callbacks(services, db, rules, center, stack, drain_seconds)
            log.info("daemon.started", node=settings.node, app=ari.app, rules=rules.current.version)
            yield cls(
                settings=settings,
                db=db,
                journal=journal,
                rules=rules,
                ari=ari,
                center=center,
                board=board,
                http_url=web.url,
                pipeline=pipeline,
                prompts=watch,
                ops=ops,
                campaigns=campaigns,
                purge=purge,
                knowledge=knowledge,
                callbacks=callbacks,
            )
        log.info("daemon.stopped", node=settings.node)


async def _database(settings: Settings, stack: contextlib.AsyncExitStack) -> Database:
    """Open the database (closed by STACK) and migrate it to the current schema."""
    db = Database.open(settings.database.url.get_secret_value())
    stack.push_async_callback(db.close)
    await upgrade_engine(db.engine)
    return db


def _log_agents(
    settings: Settings,
    journal: Journal,
    board: AgentBoard,
    stack: contextlib.AsyncExitStack,
) -> None:
    """Write the board's agent states to the state log (stamped like the journal's events,
    by the wall clock); closed at the stop, before the journal flushes."""
    agent_log = AgentLog(journal, settings.node)
    agent_log.start()
    board.observe(agent_log.changed)
    stack.callback(agent_log.close)


def _journal(db: Database, stack: contextlib.AsyncExitStack, bell: JobBell) -> CountingJournal:
    """Start the call journal (flushed and closed by STACK)."""
    recordings = RecordingStore(db, bell=bell)
    journal = CountingJournal(Metrics(), CallStore(db), recordings, answers=AnswerStore(db))
    journal.start()
    stack.push_async_callback(journal.close)
    return journal


@dataclass
class _Web:
    """The HTTP side: the socket bound at start, its URL, and the routers gathered for it."""

    sock: socket.socket | None
    url: str | None
    routers: list[APIRouter] = field(default_factory=list)

    @classmethod
    def bound(cls, settings: Settings) -> _Web:
        """Bind the socket first (a taken port fails the start, not a later request)."""
        if not settings.http.enabled:
            return cls(sock=None, url=None)
        sock = bind(settings.http.host, settings.http.port)
        return cls(sock=sock, url=settings.http.url(sock.getsockname()[1]))

    async def serve(
        self,
        *,
        settings: Settings,
        db: Database,
        center: CallCenter,
        rules: RulesReloader,
        stack: contextlib.AsyncExitStack,
        knowledge: KnowledgeReloader | None = None,
        live: LiveNodes | None = None,
    ) -> None:
        """Serve the app on the bound socket until STACK closes (nothing without HTTP)."""
        if self.sock is None:
            return
        app = _app(
            settings=settings,
            db=db,
            center=center,
            routers=self.routers,
            stack=stack.enter_context(ExitStack()),
            rules=rules,
            knowledge=knowledge,
            live=live,
        )
        await stack.enter_async_context(serving(app, self.sock, settings.http.trusted_proxies))


def _services(
    *,
    settings: Settings,
    ari: AriClient,
    journal: Journal,
    db: Database,
    board: AgentBoard,
    web: _Web,
    media: Callable[[str], str] | None,
    clock: Callable[[], dt.datetime] | None,
) -> Services:
    """Return what the call flows use; prompts come over HTTP when it is on."""
    services = Services(
        ari=ari,
        journal=journal,
        queues=Queues(board),
        settings=settings,
        customers=CustomerLookup(db),
    )
    if web.url is not None:
        prompts, router = _prompts(settings, web.url)
        services = dataclasses.replace(services, media=prompts)
        web.routers.append(router)
    if media is not None:
        services = dataclasses.replace(services, media=media)
    if clock is not None:
        services = dataclasses.replace(services, clock=clock)
    return services


def _check_trunk_entries(services: Services, current: Rules) -> None:
    """Warn about trunk DIDs sent to entry rules the live rules do not have (no call matches)."""
    known = {rule.name for rule in current.document.entry_rules}
    missing = services.trunks.plan.unknown_entries(known)
    if missing:
        log.warning("trunks.unknown_entry_rules", missing=missing)


def _push_phones(settings: Settings, ari: AriClient) -> None:
    """Create the phones zentrale keeps and the trunks' `sip:` sides in Asterisk at every
    (re)connect (memory is lost when Asterisk restarts)."""
    book = PhoneBook(settings.state_dir)

    async def push(_channels: list[Channel], _bridges: list[Bridge]) -> None:
        await push_all(ari.asterisk, book)
        await push_trunks(ari.asterisk, settings.trunks, settings.state_dir)

    ari.on_resync(push)


def _call_center(
    *, settings: Settings, services: Services, rules: RulesReloader, db: Database
) -> CallCenter:
    """Return the call centre on the live rules, handed every new channel and every resync."""
    center = CallCenter(services, lambda: rules.current)
    center.know_agents(rules.current)
    rules.subscribe(lambda outcome: center.reload_agents(rules.current))
    _check_trunk_entries(services, rules.current)
    rules.subscribe(lambda outcome: _check_trunk_entries(services, rules.current))
    services.ari.on_new_channel(center.on_call)
    services.ari.on_resync(center.on_resync)
    services.ari.on_resync(_close_left_open(settings, db, center))
    return center


async def _purging(
    settings: Settings, db: Database, stack: contextlib.AsyncExitStack, clock: Clock
) -> PurgeSchedule:
    """Purge what its retention rule no longer lets us keep, every retention.interval."""
    store = stack.enter_context(object_store(settings))
    return await stack.enter_async_context(purge_running(settings, db, store, clock))


def _campaigns(
    services: Services,
    db: Database,
    rules: RulesReloader,
    center: CallCenter,
    stack: contextlib.AsyncExitStack,
    drain_seconds: float,
) -> CampaignRunner:
    """Start the outbound campaigns' scheduler (closed by STACK, letting calls finish)."""
    campaigns = CampaignRunner(
        services=services,
        store=CampaignStore(db),
        rules=lambda: rules.current,
        legs=center.legs,
        idle_poll=services.settings.telephony.campaign_idle_poll,
    )
    campaigns.start()
    stack.push_async_callback(campaigns.close, drain_seconds)
    return campaigns


def _callbacks(
    services: Services,
    db: Database,
    rules: RulesReloader,
    center: CallCenter,
    stack: contextlib.AsyncExitStack,
    drain_seconds: float,
) -> CallbackRunner:
    """Start the scheduler of the callbacks promised at wrap-up (closed by STACK)."""
    runner = CallbackRunner(
        db=db,
        board=services.queues.board,
        place=center.place,
        rules=lambda: rules.current,
        settings=services.settings.agents.callbacks,
        clock=services.clock,
        owner=owner_id(services.settings.node),
    )
    runner.start()
    stack.push_async_callback(runner.close, drain_seconds)
    return runner


def ari_credentials(settings: Settings) -> ReloadingCredentials:
    """Return ARI credentials from the settings (the password from its variable or file,
    read again on a 401 and on SIGHUP)."""
    return ReloadingCredentials(
        settings.ari.url, settings.ari.username, settings.ari.app, settings.ari.secret
    )


def _close_left_open(
    settings: Settings, db: Database, center: CallCenter
) -> Callable[[object, object], Awaitable[None]]:
    """After the first resync: close the calls a crash left open that were not adopted.

    Calls that arrive while the resync runs (after the app registered, before this hook)
    are this daemon's own: only rows older than its start are closed, and none it follows.
    """
    started = utcnow()
    done = False

    async def close(_channels: object, _bridges: object) -> None:
        nonlocal done
        if done:
            return
        done = True
        store = CallStore(db)
        keep = set(center.adopted) | set(center.active)
        await store.close_interrupted(
            settings.node, settings.ari.app, arrived_before=started, keep=keep
        )

    return close


def _prompts(settings: Settings, http_url: str) -> tuple[Callable[[str], str], APIRouter]:
    """Return how sounds resolve to prompt URLs, and the router serving those files."""
    catalog = PromptCatalog(settings.prompts.dir)
    token = kept_secret(settings.state_dir, "prompts-token", settings.prompts.token)
    base = prompts_base_url(http_url, token.get_secret_value())
    return (lambda sound: catalog.resolve(sound, base)), prompts_router(
        catalog, token.get_secret_value()
    )


def _app(
    settings: Settings,
    db: Database,
    center: CallCenter,
    routers: list[APIRouter],
    stack: ExitStack,
    rules: RulesReloader | None = None,
    knowledge: KnowledgeReloader | None = None,
    live: LiveNodes | None = None,
) -> FastAPI:
    """Build the HTTP app: prompts, and with api.enabled the QA service, call routes and
    the wallboard (when the live RULES are given)."""
    if not settings.api.enabled:
        return create_app(routers)
    deps = Deps(
        db=db,
        store=stack.enter_context(object_store(settings)),
        unwrappers=unwrappers_from(settings),
        settings=settings,
        scorecards=load_scorecards(settings.api.scorecards_file),
        session_secret=session_secret(settings),
    )
    app = create_app(
        [
            *routers,
            *qa_routers(deps),
            *calls_routers(center, deps, live),
            *agent_routers(center, deps, live),
            *wrapup_routers(center, deps, live),
            *transfer_routers(center, deps, live),
            *recording_routers(center, deps, live),
        ]
    )
    if rules is not None:
        for router in wallboard_routers(wallboard_of(center, rules, live), deps):
            app.include_router(router)
        for router in supervise_routers(center, deps, departments_of(rules), live):
            app.include_router(router)
        for router in campaigns_routers(live_rules(rules), deps):
            app.include_router(router)
    if knowledge is not None:
        for router in knowledge_routers(center, deps, knowledge, live):
            app.include_router(router)
    install(app, deps)
    return app


def _watch_prompts(
    settings: Settings, credentials: CredentialsLike, rules: RulesReloader, ari: AriClient
) -> PromptWatch:
    """Check the live rules' prompts after every connect and every applied rules version."""
    watch = PromptWatch(PromptCatalog(settings.prompts.dir), credentials, lambda: rules.current)

    async def check() -> None:
        try:
            await watch.check()
        except httpx.HTTPError as exc:  # Asterisk away: the next connect checks again
            log.warning("prompts.check_failed", error=type(exc).__name__)

    async def after_resync(_channels: object, _bridges: object) -> None:
        await check()

    def after_reload(outcome: ReloadOutcome) -> None:
        if outcome.error is None and ari.state.connected:
            ari.spawn(check(), "prompts-check")

    ari.on_resync(after_resync)
    rules.subscribe(after_reload)
    return watch


def _options(settings: Settings) -> AriOptions:
    return AriOptions(
        request_timeout=settings.ari.request_timeout,
        ping_interval=settings.ari.ping_interval,
        ping_timeout=settings.ari.ping_interval,
        rest_transport=settings.ari.rest_transport,
    )


def _anchoring(
    settings: Settings, db: Database, stack: contextlib.AsyncExitStack, clock: Clock
) -> None:
    """Write signed checkpoints of the audit chain's head until the daemon stops."""
    task = asyncio.create_task(
        anchor.checkpoints_running(
            db,
            stack.enter_context(object_store(settings)),
            anchor.anchor_key(settings),
            settings.audit.checkpoint_interval,
            clock,
            settings.audit.checkpoint_retention_days,
        ),
        name="audit-checkpoints",
    )

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
