"""Several nodes: fetch each recording from the Asterisk that made it, whichever node works on it.

Recording jobs live in the shared database and are taken by whichever worker is free (SKIP
LOCKED), so a worker on node B may get a recording that node A's Asterisk made, e.g. after A's
daemon died. With `ops.peers` listing the other nodes' ARI, `NodeSources` looks up the node of
the recording's call (`calls.asterisk_node`) and fetches from (and deletes on) that Asterisk.
Without peers every recording is fetched from this node's own Asterisk, as before.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import select

from zentrale.calls.models import Call
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.recording.sources import RecordingSource, SourceMissingError
from zentrale.telephony.ari import AriClient, AriCredentials
from zentrale.telephony.spool import AriSource, asterisk_source

_REMEMBERED = 4096


class NodeSources:
    """A `RecordingSource` that picks the Asterisk of the recording's node."""

    def __init__(
        self, node: str, own: RecordingSource, peers: dict[str, RecordingSource], db: Database
    ) -> None:
        self.node = node
        self.own = own
        self.peers = peers
        self._db = db
        self._nodes: OrderedDict[str, str | None] = OrderedDict()

    async def fetch(self, name: str, target: Path) -> int:
        """Fetch NAME from the Asterisk of its call's node."""
        return await (await self._source(name)).fetch(name, target)

    async def delete(self, name: str) -> None:
        """Delete NAME on the Asterisk of its call's node."""
        await (await self._source(name)).delete(name)

    async def _source(self, name: str) -> RecordingSource:
        node = await self._node_of(call_id(name))
        if node is None or node == self.node:
            return self.own
        peer = self.peers.get(node)
        if peer is None:
            raise SourceMissingError(
                f"recording {name!r} was made on node {node!r}, which ops.peers does not list"
            )
        return peer

    async def _node_of(self, call: str) -> str | None:
        if call in self._nodes:
            return self._nodes[call]
        async with self._db.read() as session:
            node = await session.scalar(select(Call.asterisk_node).where(Call.id == call))
        self._nodes[call] = node
        if len(self._nodes) > _REMEMBERED:
            self._nodes.popitem(last=False)
        return node


def call_id(name: str) -> str:
    """Return the call id in an Asterisk recording name (`<call id>-<n>[-caller|-agent]`)."""
    return name.split("-", 1)[0]


async def recording_source(
    settings: Settings, db: Database, ari: AriClient, stack: contextlib.AsyncExitStack
) -> RecordingSource:
    """Return where this node's workers fetch recordings (peer clients closed by STACK)."""
    own = asterisk_source(ari, settings.recording.asterisk_spool)
    if not settings.ops.peers:
        return own
    peers: dict[str, RecordingSource] = {}
    for node, peer in settings.ops.peers.items():
        credentials = AriCredentials(
            base_url=peer.url, username=peer.username, password=peer.secret(), app=peer.app
        )
        client = AriClient(credentials, ari.options)  # REST only: never started
        stack.push_async_callback(client.close)
        peers[node] = AriSource(client)
    return NodeSources(node=settings.node, own=own, peers=peers, db=db)
