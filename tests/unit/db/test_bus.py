"""The live bus's port with its in-process adapter, and the adapter chosen by the database URL."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.db.bus import MAX_PAYLOAD, BusPayloadError, LocalBus, PostgresBus, bus_for


@pytest.mark.asyncio
async def test_every_subscriber_of_a_topic_gets_its_messages_in_order_and_no_others() -> None:
    bus = LocalBus()
    with (
        bus.subscribe("one") as first,
        bus.subscribe("one") as second,
        bus.subscribe("two") as other,
    ):
        await bus.publish("one", '{"n":1}')
        await bus.publish("one", '{"n":2}')
        await bus.publish("two", '{"n":3}')
        got = [await anext(first), await anext(first), await anext(second), await anext(second)]
        assert got == ['{"n":1}', '{"n":2}', '{"n":1}', '{"n":2}']
        assert await anext(other) == '{"n":3}'
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(other), 0.05)
    await bus.publish("one", "{}")  # nobody listens: nothing queued, nothing raised
    assert bus.topics() == []


@pytest.mark.asyncio
async def test_payloads_over_notifys_limit_and_odd_topics_are_refused_by_name() -> None:
    bus = LocalBus()
    await bus.publish("live", "x" * MAX_PAYLOAD)
    with pytest.raises(BusPayloadError, match=rf"'live': {MAX_PAYLOAD + 1} bytes, at most"):
        await bus.publish("live", "x" * (MAX_PAYLOAD + 1))
    with pytest.raises(BusPayloadError, match="bus topic 'Live; DROP'"):
        await bus.publish("Live; DROP", "{}")


def test_the_database_dialect_chooses_the_adapter() -> None:
    assert isinstance(bus_for("sqlite+aiosqlite:///x.db"), LocalBus)
    bus = bus_for("postgresql+asyncpg://z:secret@db.example:5432/zentrale")
    assert isinstance(bus, PostgresBus)
    assert bus._dsn == "postgresql://z:secret@db.example:5432/zentrale"
