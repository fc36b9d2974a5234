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

from zentrale.db.bus import BusPayloadError, PostgresBus, bus_for, seal_key
from zentrale.testing.databases import ADMIN_DSN, postgres_url

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]
TOPIC = f"bus_test_{os.getpid()}"
DSN = postgres_url("test").replace("postgresql+asyncpg://", "postgresql://", 1)


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


async def test_sealed_buses_talk_and_the_database_sees_no_payload() -> None:
    """Two nodes' buses with the shared key exchange a screen pop; a plain LISTEN on the same
    channel (any role that can connect may LISTEN) sees only sealed text; a bus with another
    key, and a NOTIFY made by hand, deliver nothing."""
    topic = f"{TOPIC}_sealed"
    key = seal_key(b"the nodes' session secret")
    sender, receiver, stranger = (
        PostgresBus(DSN, key),
        PostgresBus(DSN, key),
        PostgresBus(DSN, seal_key(b"another installation")),
    )
    spy = await asyncpg.connect(DSN)
    heard: list[str] = []
    await spy.add_listener(topic, lambda *args: heard.append(str(args[3])))
    pop = '{"pop":{"caller":"+905551112233","customer":{"name":"Zeynep Kaya"}}}'
    try:
        for bus in (sender, receiver, stranger):
            bus.start()
        with receiver.subscribe(topic) as messages, stranger.subscribe(topic) as foreign:
            await _listening(receiver, topic)
            await _listening(stranger, topic)
            await sender.connected.wait()
            await sender.publish(topic, pop)
            assert await asyncio.wait_for(anext(messages), 5) == pop
            await spy.execute("SELECT pg_notify($1, $2)", topic, '{"forged":true}')
            await sender.publish(topic, '{"n":2}')
            assert await asyncio.wait_for(anext(messages), 5) == '{"n":2}'  # not the forgery
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(foreign), 0.5)
        assert len(heard) == 3
        assert heard[0].startswith("z1.")
        assert "905551112233" not in heard[0]
        assert "Zeynep" not in heard[0]
    finally:
        await spy.close()
        for bus in (sender, receiver, stranger):
            await bus.close()
