"""Audit checkpoints on moto's S3 server with Object Lock: locked in compliance mode."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from zentrale.core import anchor, audit
from zentrale.db.session import Database
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.storage.s3 import S3Settings, S3Store
from zentrale.testing.databases import fresh_database, migrated_database
from zentrale.testing.moto import MotoServer, start_moto_server, stop_moto_server

pytestmark = [pytest.mark.s3, pytest.mark.asyncio]

BUCKET = "audit"
NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def locked() -> Iterator[tuple[S3Store, Any]]:
    server: MotoServer = start_moto_server()
    client = ClientSettings(
        endpoint_url=server.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout=1,
        read_timeout=5,
        max_attempts=1,
    )
    raw = make_client("s3", client)
    raw.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    store = S3Store.connect(S3Settings(bucket=BUCKET, prefix="zentrale/", client=client))
    yield store, raw
    store.close()
    raw.close()
    stop_moto_server(server)


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    with fresh_database("sqlite", tmp_path, prefix="zentrale_lock") as url:
        async with migrated_database(url) as database:
            yield database


async def test_checkpoints_are_locked_and_verify(db: Database, locked: tuple[S3Store, Any]) -> None:
    store, raw = locked
    await audit.record(db, audit.Actor(None, "t", None), audit.Event("test"), NOW)
    point = await anchor.checkpoint(db, store, b"key", NOW, retain_days=30)
    assert point is not None
    (name,) = list(store.list(anchor.PREFIX))
    head = raw.head_object(Bucket=BUCKET, Key=f"zentrale/{name}")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > NOW + dt.timedelta(days=29)
    with pytest.raises(Exception, match=r"AccessDenied|locked|retention"):
        raw.delete_object(Bucket=BUCKET, Key=f"zentrale/{name}", VersionId=head["VersionId"])
    assert (await anchor.verify_anchored(db, store, b"key")).ok
