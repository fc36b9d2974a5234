"""The live bus on a real PostgreSQL: LISTEN/NOTIFY between two buses (two connections, as two
nodes have), and the listener's connection killed by the server (`pg_terminate_backend`): the
bus reconnects and the next messages arrive again."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from zentrale.db.bus import BusPayloadError, PostgresBus, bus_for
from zentrale.testing.databases import ADMIN_DSN, postgres_url

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]
TOPIC = f"bus_test_{os.getpid()}"


@pytest_asyncio.fixture
async def buses() -> AsyncIterator[tuple[PostgresBus, PostgresBus]]:
    pair = []
    for _ in range(2):
        bus = bus_for(postgres_url("test"))
        assert isinstance(bus, PostgresBus)
        bus.start()
        pair.append(bus)
    try:
        yield pair[0], pair[1]
    finally:
        for bus in pair:
            await bus.close()


async def _listening(bus: PostgresBus, topic: str, connects: int = 1) -> None:
    """Wait until BUS's connection (made CONNECTS times) LISTENs to TOPIC."""
    async with asyncio.timeout(15):
        while True:
            if bus.connects >= connects and bus.connected.is_set() and topic in bus._listening:
                return
            await asyncio.sleep(0.02)


async def test_notify_crosses_connections_and_survives_the_listener_being_killed(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    sender, receiver = buses
    with receiver.subscribe(TOPIC) as messages:
        await _listening(receiver, TOPIC)
        await sender.connected.wait()
        await sender.publish(TOPIC, '{"n":1}')
        assert await asyncio.wait_for(anext(messages), 5) == '{"n":1}'
        with pytest.raises(BusPayloadError):
            await sender.publish(TOPIC, "x" * 8000)

        assert receiver._conn is not None
        pid = receiver._conn.get_server_pid()
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await _listening(receiver, TOPIC, connects=2)
        await sender.publish(TOPIC, '{"n":2}')
        assert await asyncio.wait_for(anext(messages), 5) == '{"n":2}'
        assert receiver._conn.get_server_pid() != pid
