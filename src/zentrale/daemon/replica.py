"""`zentrale api serve`: the QA service alone, and with PostgreSQL an API replica on the live bus.

With a PostgreSQL database (the nodes' shared one) and the routing rules at hand, the replica
takes part in the live bus as a node without telephony: it hears every node's agents, queues
and screen pops (`daemon.live.live_running`, as a daemon does, publishing an empty board so the
daemons know a workspace may open here), and mounts the daemon's agent, wrap-up, transfer,
recording, supervisors', wallboard, campaign and knowledge (scripts, articles) routes on a call
centre whose board stays empty (the wallboard shows the other nodes' agents and queues). Every
agent and call is then another node's, so those routes serve the agent's page and event stream
from the bus and forward actions to the node that carries the agent or call (`api.forwarding`),
exactly as on a daemon that does not ring the agent. What needs a node's own calls
(click-to-call, the list of calls in progress) is refused 409 `no-telephony`; the call centre's
ARI client has a transport that refuses every request the same way, so nothing here ever
reaches an Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import structlog
from fastapi import APIRouter
from pydantic import SecretStr

from zentrale.api.app import create_app
from zentrale.api.deps import Deps
from zentrale.api.routes_agent import agent_routers
from zentrale.api.routes_agent_recording import recording_routers
from zentrale.api.routes_calls import calls_routers
from zentrale.api.routes_knowledge import knowledge_routers
from zentrale.api.routes_supervise import supervise_routers
from zentrale.api.routes_surveys import campaigns_routers
from zentrale.api.routes_transfer import transfer_routers
from zentrale.api.routes_wallboard import wallboard_routers
from zentrale.api.routes_wrapup import wrapup_routers
from zentrale.api.server import bind, serving
from zentrale.api.workspace import NoTelephonyError
from zentrale.calls.store import CallStore
from zentrale.config.settings import Settings
from zentrale.core import anchor
from zentrale.daemon.live import live_running
from zentrale.daemon.qa import open_deps
from zentrale.daemon.rules import (
    departments_of,
    knowledge_watched,
    live_rules,
    rules_watched,
    wallboard_of,
)
from zentrale.db.engine import is_sqlite, parse_url
from zentrale.db.session import Database
from zentrale.recording.store import RecordingStore
from zentrale.routing.rules import Rules
from zentrale.telephony.ari import AriClient, AriOptions
from zentrale.telephony.ari.config import AriCredentials
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.context import Services
from zentrale.telephony.journal import Journal
from zentrale.telephony.queueing import Queues

log = structlog.get_logger(__name__)


class NoAsterisk(httpx.AsyncBaseTransport):
    """The replica's ARI transport: every request is refused (409 `no-telephony`)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse REQUEST: a replica runs no calls."""
        raise NoTelephonyError(
            f"{request.method} {request.url.path}: this node is an API replica and runs no "
            "calls; ask a node that runs them (zentrale run)"
        )


def replica_center(settings: Settings, db: Database, rules: Callable[[], Rules]) -> CallCenter:
    """Return a call centre without telephony: an empty board, no calls, an ARI client that is
    never connected and refuses every request, a journal that is never started."""
    credentials = AriCredentials(
        base_url="http://no-telephony.invalid/ari",
        username="replica",
        password=SecretStr("none"),
        app=settings.ari.app,
    )
    ari = AriClient(credentials, AriOptions(rest_transport="http"), transport=NoAsterisk())
    services = Services(
        ari=ari,
        journal=Journal(CallStore(db), RecordingStore(db)),
        queues=Queues(AgentBoard()),
        settings=settings,
    )
    return CallCenter(services, rules)


def is_replica(settings: Settings) -> bool:
    """Tell whether `zentrale api serve` joins the live bus: on PostgreSQL (shared with the
    daemons), with the routing rules' file at hand (the supervisors' page's departments)."""
    if is_sqlite(parse_url(settings.database.url)):
        return False
    if not settings.routing.file.is_file():
        log.warning("replica.no_rules", file=str(settings.routing.file))
        return False
    return True


def replica_node(node: str, port: int) -> str:
    """Return the replica's name on the live bus: its settings' NODE with its PORT, as the
    replicas on a host share the daemon's settings file (a replica named like the daemon would
    take the daemon's messages for its own, and hear the requests meant for it)."""
    return f"{node}/api-{port}"


@contextlib.asynccontextmanager
async def replica_routers(
    settings: Settings, deps: Deps, url: str | None, port: int
) -> AsyncIterator[list[APIRouter]]:
    """Yield the live routes of an API replica serving on PORT (none when it does not join
    the bus)."""
    if not is_replica(settings):
        yield []
        return
    async with contextlib.AsyncExitStack() as stack:
        rules = await rules_watched(settings, stack)
        knowledge = await knowledge_watched(settings, rules, stack)
        departments = departments_of(rules)
        center = replica_center(settings, deps.db, lambda: rules.current)
        node = replica_node(settings.node, port)
        named = settings.model_copy(update={"node": node})
        live = await stack.enter_async_context(live_running(named, center, departments, url))
        log.info("replica.live", node=node)
        yield [
            *calls_routers(center, deps, live, telephony=False),
            *agent_routers(center, deps, live),
            *wrapup_routers(center, deps, live),
            *transfer_routers(center, deps, live),
            *recording_routers(center, deps, live),
            *supervise_routers(center, deps, departments, live),
            *wallboard_routers(wallboard_of(center, rules, live), deps),
            *campaigns_routers(live_rules(rules), deps),
            *knowledge_routers(center, deps, knowledge, live),
        ]


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
        bound = int(sock.getsockname()[1])
        url = settings.http.url(bound)
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
            async with replica_routers(settings, deps, url, bound) as live_routes:
                app = create_app(deps, live_routes)
                async with serving(app, sock, settings.http.trusted_proxies):
                    log.info("api.serving", url=url, keys=len(deps.unwrappers))
                    echo(f"QA service at {url}/ (API: {url}/api/openapi.json)")
                    await stop.wait()
        finally:
            anchoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await anchoring
