"""The live bus: small JSON messages by topic between the processes of one installation.

A port (`LiveBus`: `publish(topic, payload)`, `subscribe(topic)`) with two adapters, chosen by
the database URL's dialect (`bus_for`): `LocalBus` delivers within this process (SQLite, one
node); `PostgresBus` uses PostgreSQL's LISTEN/NOTIFY on the shared database, on a dedicated
asyncpg connection of its own. When that connection drops, the bus reconnects with backoff
(0.5 s doubling to 10 s, from 0.5 s again once a connection was up) and listens again; a
statement that gets no answer within `STATEMENT_TIMEOUT` (a silently dead link) drops the
connection, which reconnects; messages sent meanwhile are lost (NOTIFY keeps
nothing), so consumers resync from the periodic snapshots their publishers send. A payload
must stay under `MAX_PAYLOAD`: send small deltas and ids, not documents.

With a key (`seal_key`, derived from a secret the nodes share), a `PostgresBus` seals every
payload (AES-256-GCM, the topic as associated data) before it NOTIFYs it and opens it on
arrival: the payloads (screen pops with caller numbers and customer names, forwarded requests
and replies, a softphone's SIP password) never stand in PostgreSQL's notification queue, which
any role that can connect to the database may LISTEN to, or in its files in plain text. A
message that does not open with the key (another installation's, a forged one) is dropped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterator
from typing import Protocol

import asyncpg
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zentrale.base.errors import BadRequestError
from zentrale.base.outage import Outage
from zentrale.db.engine import DatabaseUrl, is_sqlite, parse_url

log = structlog.get_logger(__name__)

WIRE_LIMIT = 7900
"""Bytes a NOTIFY payload may have: PostgreSQL refuses 8,000 and more; a margin."""
SEALED = "z1."
"""The prefix of a sealed payload (then the nonce, ciphertext and tag in URL-safe base64)."""
_NONCE, _TAG = 12, 16
MAX_PAYLOAD = (WIRE_LIMIT - len(SEALED)) // 4 * 3 - _NONCE - _TAG - 2
"""Bytes (UTF-8) a payload may have, so that sealed it still fits `WIRE_LIMIT`."""
QUEUED = 1000
"""Messages a slow subscriber may have pending; older ones are dropped beyond that."""
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
STATEMENT_TIMEOUT = 5.0
"""Seconds a NOTIFY or the liveness check may take before the connection counts as dead."""
CHECK_EVERY = 5.0
"""Seconds between liveness checks of an idle connection."""
TOPIC = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def seal_key(secret: bytes) -> bytes:
    """Return the key that seals the bus's payloads, derived from the nodes' shared SECRET (a
    key of its own: it signs nothing and opens no session)."""
    return hmac.new(secret, b"zentrale bus seal v1", hashlib.sha256).digest()


def seal(key: bytes, topic: str, payload: str) -> str:
    """Return PAYLOAD sealed with KEY for TOPIC."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, payload.encode(), topic.encode())
    return SEALED + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, topic: str, text: str) -> str:
    """Return the payload TEXT sealed with KEY for TOPIC; raise ValueError if it is not."""
    if not text.startswith(SEALED):
        raise ValueError("not sealed")
    try:
        raw = base64.urlsafe_b64decode(text[len(SEALED) :])
        opened = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], topic.encode())
    except (binascii.Error, InvalidTag) as exc:
        raise ValueError("does not open with this key") from exc
    return opened.decode()


class BusPayloadError(BadRequestError):
    """A topic or payload the bus cannot carry."""

    code = "bus-payload"


def check(topic: str, payload: str) -> None:
    """Refuse a topic that is no plain channel name, or a payload over `MAX_PAYLOAD` bytes."""
    if not TOPIC.match(topic):
        raise BusPayloadError(f"bus topic {topic!r}: use lower-case letters, digits and _")
    size = len(payload.encode())
    if size > MAX_PAYLOAD:
        raise BusPayloadError(f"bus payload on {topic!r}: {size} bytes, at most {MAX_PAYLOAD}")


class Subscription:
    """The messages of one topic for one subscriber, in order (an async iterator)."""

    def __init__(self, topic: str, closing: Callable[[Subscription], None]) -> None:
        self.topic = topic
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._closing = closing

    def put(self, payload: str) -> None:
        """Queue PAYLOAD, dropping the oldest when the subscriber lags `QUEUED` behind."""
        if self._queue.qsize() >= QUEUED:
            self._queue.get_nowait()
        self._queue.put_nowait(payload)

    def close(self) -> None:
        """Stop receiving."""
        self._closing(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        return await self._queue.get()


class LiveBus(Protocol):
    """Publish and subscribe by topic."""

    async def publish(self, topic: str, payload: str) -> None:
        """Send PAYLOAD (JSON text) to every subscriber of TOPIC, in any process."""

    def subscribe(self, topic: str) -> contextlib.AbstractContextManager[Subscription]:
        """Receive TOPIC's messages while the block runs."""

    async def close(self) -> None:
        """Stop; subscriptions receive nothing more."""


class LocalBus:
    """The bus within one process (SQLite, a single node)."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscription]] = {}

    async def publish(self, topic: str, payload: str) -> None:
        """Deliver PAYLOAD to TOPIC's subscribers in this process."""
        check(topic, payload)
        self.deliver(topic, payload)

    def deliver(self, topic: str, payload: str) -> None:
        """Hand PAYLOAD to TOPIC's subscribers (no checks)."""
        for sub in list(self._subs.get(topic, ())):
            sub.put(payload)

    def topics(self) -> list[str]:
        """Return the topics someone subscribes to."""
        return [topic for topic, subs in self._subs.items() if subs]

    @contextlib.contextmanager
    def subscribe(self, topic: str) -> Iterator[Subscription]:
        """Receive TOPIC's messages while the block runs."""
        check(topic, "")
        sub = Subscription(topic, self._remove)
        self._subs.setdefault(topic, []).append(sub)
        try:
            yield sub
        finally:
            sub.close()

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.topic, [])
        if sub in subs:
            subs.remove(sub)

    async def close(self) -> None:
        """Forget every subscriber."""
        self._subs.clear()


class PostgresBus:
    """The bus over PostgreSQL LISTEN/NOTIFY, on one dedicated connection that it keeps up."""

    def __init__(self, dsn: str, key: bytes | None = None) -> None:
        self._dsn = dsn
        self._key = key
        self._local = LocalBus()
        self._conn: asyncpg.Connection | None = None
        self._listening: set[str] = set()
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._outage = Outage("bus.postgres", log)
        self._task: asyncio.Task[None] | None = None
        self.connects = 0
        """How often the connection was (re)made: tests and metrics."""
        self.connected = asyncio.Event()
        self._sleep = asyncio.sleep

    def start(self) -> None:
        """Connect (and keep reconnecting) in the background."""
        self._task = asyncio.create_task(self._keep_connected(), name="bus-postgres")

    async def publish(self, topic: str, payload: str) -> None:
        """NOTIFY TOPIC (sealed, with a key); dropped (logged once per outage) while the
        database is away."""
        check(topic, payload)
        if self._key is not None:
            payload = seal(self._key, topic, payload)
        conn = self._conn
        if conn is None or conn.is_closed():
            log.debug("bus.publish_dropped", topic=topic)
            return
        try:
            await self._execute(conn, "SELECT pg_notify($1, $2)", topic, payload)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._outage.failed(exc)
            self._lost.set()

    async def _execute(self, conn: asyncpg.Connection, query: str, *args: str) -> None:
        """Run QUERY under the lock; no answer in `STATEMENT_TIMEOUT`: drop the connection."""
        async with self._lock:
            try:
                await conn.execute(query, *args, timeout=STATEMENT_TIMEOUT)
            except TimeoutError as exc:
                conn.terminate()
                self._lost.set()
                raise ConnectionResetError("bus connection: no answer in time") from exc

    @contextlib.contextmanager
    def subscribe(self, topic: str) -> Iterator[Subscription]:
        """Receive TOPIC's messages (from every process) while the block runs."""
        with self._local.subscribe(topic) as sub:
            if topic not in self._listening:
                self._lost.set()  # the connection loop LISTENs to it
            yield sub

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
        await self._local.close()

    async def _keep_connected(self) -> None:
        pause = BACKOFF_FIRST
        while True:
            connects = self.connects
            try:
                await self._session()
            except Exception as exc:  # whatever broke the connection: log once, connect again
                self._outage.failed(exc)
                if self.connects != connects:  # it was up: start the backoff afresh
                    pause = BACKOFF_FIRST
                await self._sleep(pause)
                pause = min(pause * 2, BACKOFF_MAX)

    async def _session(self) -> None:
        """Connect, LISTEN to every subscribed topic, and return when the connection is lost."""
        self.connected.clear()
        conn = await asyncpg.connect(self._dsn, timeout=10)
        self._conn, self._listening = conn, set()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self.connects += 1
        self._outage.ok()
        try:
            while not conn.is_closed():
                self._lost.clear()
                async with self._lock:  # one operation at a time on the connection
                    for topic in set(self._local.topics()) - self._listening:
                        await conn.add_listener(topic, self._received)
                        self._listening.add(topic)
                self.connected.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), timeout=CHECK_EVERY)
                if not conn.is_closed():
                    await self._execute(conn, "SELECT 1")  # notices a dead server
        finally:
            self.connected.clear()
            self._conn = None
            conn.terminate()
        raise ConnectionResetError("bus connection closed")

    def _received(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        text = str(payload)
        if self._key is not None:
            try:
                text = unseal(self._key, channel, text)
            except ValueError as exc:
                log.warning("bus.unsealed_dropped", topic=channel, error=str(exc))
                return
        self._local.deliver(channel, text)


def bus_for(url: DatabaseUrl, key: bytes | None = None) -> LocalBus | PostgresBus:
    """Return the bus for the database at URL: LISTEN/NOTIFY on PostgreSQL (its payloads
    sealed with KEY when given), else in-process.

    A `PostgresBus` still has to be started (`start()`)."""
    parsed = parse_url(url)
    if is_sqlite(parsed):
        return LocalBus()
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresBus(dsn, key)
