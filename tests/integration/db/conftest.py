"""Fixtures for the persistence tests: every test runs on SQLite and on PostgreSQL.

SQLite gets a file in the test's tmp_path. PostgreSQL (127.0.0.1:5432, trust auth; start it
with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) gets a fresh
database per test, `zentrale_test_<pid>_<n>`, created from the `test` database and dropped
(WITH FORCE) afterwards. `ZENTRALE_TEST_POSTGRES` overrides the admin DSN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from zentrale.calls.models import Direction
from zentrale.calls.store import CallStore, NewCall
from zentrale.db.session import Database
from zentrale.recording.jobs import JobQueue
from zentrale.recording.store import RecordingStore
from zentrale.testing.clocks import START as START_TIME
from zentrale.testing.clocks import FakeClock as FakeClock
from zentrale.testing.databases import (
    fresh_database,
    migrated_database,
)
from zentrale.testing.databases import postgres_url as postgres_url  # for the tests here

T = TypeVar("T")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database a test runs on."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of BACKEND, removed after the test."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database, closed after the test."""
    async with migrated_database(database_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    """The stores' clock."""
    return FakeClock()


@pytest.fixture
def calls(db: Database, clock: FakeClock) -> CallStore:
    """The call store on the test database."""
    return CallStore(db, clock)


@pytest.fixture
def recordings(db: Database, clock: FakeClock) -> RecordingStore:
    """The recording store on the test database."""
    return RecordingStore(db, clock)


@pytest.fixture
def jobs(db: Database, clock: FakeClock) -> JobQueue:
    """The job queue on the test database, parking a job after 3 failed attempts."""
    return JobQueue(db, max_attempts=3, clock=clock)


def inbound(call_id: str = "call-1", at: dt.datetime = START_TIME, **fields: Any) -> NewCall:
    """An inbound call arriving at AT."""
    values: dict[str, Any] = {
        "caller_number": "+905551112233",
        "dialled_number": "+902120000000",
        "language": "tr",
        "asterisk_node": "node1",
        "app_name": "zentrale",
        "rules_version": "3f2a9c1b4d5e",
    }
    values.update(fields)
    return NewCall(id=call_id, direction=Direction.INBOUND, arrived_at=at, **values)
