"""The live bus between nodes, wired: this node publishes its agents and hears the others',
and answers the requests other nodes forward to it (`ops.forward`).

The bus is chosen by the database URL's dialect (`db.bus.bus_for`): LISTEN/NOTIFY on
PostgreSQL (the nodes' shared database; every payload sealed with a key of the nodes' shared
`api.session_secret`), in-process on SQLite (one node).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from zentrale.config.settings import Settings
from zentrale.daemon.qa import session_secret
from zentrale.db.bus import PostgresBus, bus_for, seal_key
from zentrale.ops.forward import Forwarder, forward_key
from zentrale.ops.live import (
    Departments,
    LiveNodes,
    NodePublisher,
    center_snapshot,
    with_transfers,
)
from zentrale.telephony.callcenter import CallCenter


@contextlib.asynccontextmanager
async def live_running(
    settings: Settings, center: CallCenter, departments: Departments, url: str | None
) -> AsyncIterator[LiveNodes]:
    """Publish CENTER's agents and queues and gather the other nodes' until the block ends."""
    # Keys of the session secret, which nodes behind one load balancer share: every payload
    # sealed (PostgreSQL), and the forwarded requests and replies signed as well.
    secret = session_secret(settings)
    bus = bus_for(settings.database.url, seal_key(secret))
    if isinstance(bus, PostgresBus):
        bus.start()
    nodes = LiveNodes(settings.node)
    forwarder = Forwarder(bus, settings.node, forward_key(secret))
    nodes.forwarder = forwarder

    def head() -> dict[str, Any]:
        return {"node": settings.node, "url": url}

    def local() -> dict[str, Any]:
        return with_transfers(center_snapshot(center, departments, None), center)

    async def wait(seconds: float) -> None:
        """Wait for a change of the board or of a transfer (at most SECONDS)."""
        waits = (center.services.queues.board.wait_change, center.services.transfers.wait_change)
        tasks = [asyncio.ensure_future(w(seconds)) for w in waits]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    publisher = NodePublisher(bus, head, local, wait, others=nodes.has_others)
    center.services.pops.on_offer(publisher.offered)
    tasks = [
        asyncio.create_task(nodes.run(bus), name="live-nodes"),
        asyncio.create_task(publisher.run(), name="live-publish"),
        asyncio.create_task(forwarder.run(), name="live-forward"),
    ]
    try:
        yield nodes
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
