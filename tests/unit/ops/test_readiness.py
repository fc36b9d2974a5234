"""Readiness checks and the ops HTTP routes, on a real SQLite database and in-memory stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from zentrale.api.routes_ops import ops_router
from zentrale.db.session import Database
from zentrale.ops.metrics import Metrics, OwnErrors
from zentrale.ops.readiness import Readiness
from zentrale.recording.storage.base import StorageUnavailableError
from zentrale.recording.storage.memory import MemoryStore
from zentrale.telephony.ari.connection import ConnectionState

pytestmark = pytest.mark.asyncio


class CountingStore(MemoryStore):
    """A memory store that counts writes and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0
        self.failing = False

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        self.puts += 1
        if self.failing:
            raise StorageUnavailableError("bucket s3://secret-bucket unreachable")
        return super().put(key, chunks)


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.state = ConnectionState(connected=True)
        self.store = CountingStore()
        self.version: str | None = "v1"
        self.accepting = True
        self.errors = OwnErrors()

    def readiness(self, interval: float = 60.0) -> Readiness:
        return Readiness(
            ari=lambda: self.state,
            db=self.db,
            store=self.store,
            rules_version=lambda: self.version,
            accepting=lambda: self.accepting,
            node="node1",
            interval=interval,
            errors=self.errors,
        )


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    try:
        yield World(db)
    finally:
        await db.close()


def _by_name(checks: list[object]) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.ok, c.detail) for c in checks}  # type: ignore[attr-defined]


async def test_all_checks_pass_and_the_probe_object_is_removed(world: World) -> None:
    checks = _by_name(await world.readiness().checks())
    assert checks == {
        "ari": (True, "connected"),
        "database": (True, "reachable"),
        "storage": (True, "writable"),
        "rules": (True, "version v1"),
        "accepting": (True, "taking new calls"),
    }
    assert list(world.store.list()) == []


async def test_failures_say_why_without_addresses(world: World) -> None:
    world.state = ConnectionState(
        connected=False, last_error="ConnectionRefusedError: connect to 10.0.0.5:8088 failed"
    )
    world.store.failing = True
    world.version = None
    world.accepting = False
    checks = _by_name(await world.readiness().checks())
    assert checks["ari"] == (False, "not connected (ConnectionRefusedError)")
    assert checks["storage"] == (False, "not writable (StorageUnavailableError)")
    assert checks["rules"] == (False, "no routing rules loaded")
    assert checks["accepting"][0] is False
    assert world.errors.storage == 1
    assert world.errors.last["storage"] == "StorageUnavailableError"


async def test_unreachable_database_fails_its_check() -> None:
    db = Database.open("postgresql+asyncpg://nobody@127.0.0.1:9/none")  # nothing listens on 9
    try:
        world = World(db)
        checks = _by_name(await world.readiness().checks())
    finally:
        await db.close()
    assert checks["database"][0] is False
    assert checks["database"][1].startswith("unreachable (")
    assert world.errors.db == 1


async def test_probes_are_reused_within_the_interval(world: World) -> None:
    readiness = world.readiness(interval=60.0)
    for _ in range(5):
        await readiness.checks()
    assert world.store.puts == 1
    world.state = ConnectionState(connected=False)  # ARI is read live, not cached
    assert _by_name(await readiness.checks())["ari"][0] is False
    fresh = world.readiness(interval=0.0)
    await fresh.checks()
    await fresh.checks()
    assert world.store.puts == 3


async def test_routes(world: World) -> None:
    metrics = Metrics()
    app = FastAPI()
    app.include_router(ops_router("node1", world.readiness(), metrics, SecretStr("t0ken")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://z") as client:
        assert (await client.get("/healthz")).json() == {"status": "alive"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer t0ke"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        good = await client.get("/metrics", headers={"Authorization": "Bearer t0ken"})
        assert good.status_code == 200
        assert good.headers["content-type"].startswith("text/plain")
        world.accepting = False
        draining = await client.get("/readyz")
        assert draining.status_code == 503
        assert draining.json()["ready"] is False
