"""The live bus's port with its in-process adapter, and the adapter chosen by the database URL."""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import pytest

from zentrale.db import bus as bus_module
from zentrale.db.bus import (
    MAX_PAYLOAD,
    WIRE_LIMIT,
    BusPayloadError,
    LocalBus,
    PostgresBus,
    bus_for,
    seal,
    seal_key,
    unseal,
)


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


class _FakeConn:
    """An asyncpg connection's few calls the bus uses; HANG: statements get no answer."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.closed = False
        self.busy = False
        self.gate = asyncio.Event()
        self.gate.set()
        self.listening: list[str] = []

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.closed = True

    def add_termination_listener(self, _callback: object) -> None:
        pass

    async def _operation(self, seconds: float | None) -> None:
        if self.busy:  # as asyncpg: one operation at a time per connection
            raise asyncpg.InterfaceError("another operation is in progress")
        self.busy = True
        try:
            await asyncio.wait_for(self.gate.wait(), seconds)
            if self.hang:
                await asyncio.wait_for(asyncio.Event().wait(), seconds)
        finally:
            self.busy = False

    async def execute(self, _query: str, *_args: str, timeout: float | None = None) -> None:  # noqa: ASYNC109 - asyncpg's signature
        await self._operation(timeout)

    async def add_listener(self, topic: str, _callback: object) -> None:
        await self._operation(None)
        self.listening.append(topic)


def _bus_on(conn: _FakeConn, monkeypatch: pytest.MonkeyPatch) -> PostgresBus:
    async def connect(_dsn: str, timeout: float) -> _FakeConn:  # noqa: ASYNC109 - asyncpg's
        return conn

    monkeypatch.setattr(bus_module.asyncpg, "connect", connect)
    monkeypatch.setattr(bus_module, "STATEMENT_TIMEOUT", 0.05, raising=False)
    monkeypatch.setattr(bus_module, "CHECK_EVERY", 0.01, raising=False)
    return PostgresBus("postgresql://z@db/zentrale")


@pytest.mark.asyncio
async def test_a_dead_link_times_out_publish_and_the_check_and_drops_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = _FakeConn()
    bus = _bus_on(conn, monkeypatch)
    session = asyncio.create_task(bus._session())
    await asyncio.wait_for(bus.connected.wait(), 1)
    conn.hang = True
    await asyncio.wait_for(bus.publish("live", "{}"), 1)  # returns: it does not hang
    assert conn.closed
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(session, 1)
    assert bus._conn is None

    idle = _FakeConn()
    bus = _bus_on(idle, monkeypatch)
    session = asyncio.create_task(bus._session())
    await asyncio.wait_for(bus.connected.wait(), 1)
    idle.hang = True  # the liveness check gets no answer either
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(session, 1)
    assert idle.closed


@pytest.mark.asyncio
async def test_listen_and_publish_never_overlap_on_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = _FakeConn()
    conn.gate.clear()  # LISTEN waits for the server
    bus = _bus_on(conn, monkeypatch)
    with bus.subscribe("live"):
        session = asyncio.create_task(bus._session())
        try:
            await asyncio.sleep(0.01)
            publishing = asyncio.create_task(bus.publish("live", "{}"))
            await asyncio.sleep(0.01)
            conn.gate.set()
            await asyncio.wait_for(publishing, 1)
        finally:
            session.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError, TimeoutError):
                await asyncio.wait_for(session, 1)
    assert bus._outage.total == 0  # the NOTIFY waited for the LISTEN, no InterfaceError
    assert conn.listening == ["live"]


@pytest.mark.asyncio
async def test_the_backoff_starts_afresh_after_a_connection_that_was_up() -> None:
    bus = PostgresBus("postgresql://z@db/zentrale")
    outcomes = [False, False, True, False]  # True: connected, then lost
    pauses: list[float] = []

    async def session() -> None:
        if outcomes.pop(0):
            bus.connects += 1
        raise ConnectionResetError("lost")

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if not outcomes:
            raise asyncio.CancelledError

    bus._session = session  # type: ignore[method-assign]
    bus._sleep = sleep  # type: ignore[assignment]
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(bus._keep_connected(), 1)
    assert pauses == [0.5, 1.0, 0.5, 1.0]


def test_a_sealed_payload_opens_only_with_its_key_and_topic() -> None:
    key, other = seal_key(b"shared secret"), seal_key(b"another installation")
    payload = json.dumps({"pop": {"caller": "+905551112233", "customer": {"name": "Zeynep"}}})
    sealed = seal(key, "zentrale_live", payload)
    assert sealed.startswith("z1.")
    assert "905551112233" not in sealed
    assert "Zeynep" not in sealed
    assert sealed != seal(key, "zentrale_live", payload)  # a fresh nonce every time
    assert unseal(key, "zentrale_live", sealed) == payload
    for wrong_key, topic, text in (
        (other, "zentrale_live", sealed),  # another key
        (key, "zentrale_fwd_node2", sealed),  # moved to another topic
        (key, "zentrale_live", payload),  # never sealed (anyone's NOTIFY)
        (key, "zentrale_live", sealed[:-4] + "AAAA"),  # changed on the way
        (key, "zentrale_live", "z1.not base64!"),
    ):
        with pytest.raises(ValueError, match=r"not sealed|does not open"):
            unseal(wrong_key, topic, text)


def test_the_largest_payload_still_fits_notify_once_sealed() -> None:
    largest = "é" * (MAX_PAYLOAD // 2)
    assert len(largest.encode()) <= MAX_PAYLOAD
    assert len(seal(seal_key(b"s"), "t", largest).encode()) <= WIRE_LIMIT < 8000
    assert MAX_PAYLOAD > 5800
