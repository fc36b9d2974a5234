"""Fixtures for the ARI client unit tests: a fake ARI server and a fast-reconnecting client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from zentrale.telephony.ari import AriClient, AriOptions
from zentrale.testing.fake_ari import FakeAri

FAST = AriOptions(
    backoff_initial=0.01,
    backoff_max=0.05,
    retry_backoff=0.001,
    ping_interval=0.2,
    # Long enough that a test loop busy with thousands of events on a loaded machine is not
    # taken for a dead peer (its reconnect dropped events: a flake in the full run).
    ping_timeout=1.0,
    lane_idle_timeout=0.2,
    request_timeout=2.0,
)


@pytest_asyncio.fixture
async def task_guard() -> AsyncIterator[None]:
    """Fail the test if it leaves tasks behind (checked after client and fake closed)."""
    before = asyncio.all_tasks()
    yield
    for _ in range(5):
        await asyncio.sleep(0)
    leaked = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert not leaked, f"leaked tasks: {[t.get_name() for t in leaked]}"


@pytest_asyncio.fixture
async def fake(task_guard: None) -> AsyncIterator[FakeAri]:
    """A running fake ARI server on a random loopback port."""
    async with FakeAri(playback_seconds=0.01) as server:
        yield server


@pytest_asyncio.fixture
async def ari(fake: FakeAri) -> AsyncIterator[AriClient]:
    """A started client, connected and resynced."""
    async with AriClient(fake.credentials, FAST) as client:
        await client.wait_connected(5)
        await client.wait_resynced(5)
        yield client


@pytest_asyncio.fixture
async def rest_only(fake: FakeAri) -> AsyncIterator[AriClient]:
    """A client that is not started: REST only, no event WebSocket, no resync traffic."""
    client = AriClient(fake.credentials, FAST)
    try:
        yield client
    finally:
        await client.close()


async def eventually(condition: object, max_wait: float = 5.0) -> None:
    """Poll a zero-argument callable until it is truthy (no timing assertions, just a bound)."""
    assert callable(condition)
    async with asyncio.timeout(max_wait):
        while not condition():  # noqa: ASYNC110 - polls state owned by the code under test
            await asyncio.sleep(0.005)
