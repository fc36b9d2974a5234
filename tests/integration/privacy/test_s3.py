"""Retention and erasure against moto's S3 server: objects really leave the bucket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zentrale.core.audit import Actor
from zentrale.db.session import Database
from zentrale.privacy.holds import HoldStore
from zentrale.privacy.models import HoldScope
from zentrale.privacy.purge import Purger
from zentrale.privacy.rules import parse_retention
from zentrale.privacy.subjects import Requester, SubjectQuery, erase
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import RecordingState
from zentrale.recording.storage.s3 import S3Settings, S3Store
from zentrale.recording.store import RecordingStore
from zentrale.testing.moto import MotoServer, start_moto_server, stop_moto_server
from zentrale.testing.recordings import decrypt

from .conftest import DAY, FakeClock, Maker, make_wav

pytestmark = pytest.mark.s3

BUCKET = "recordings"
ADMIN = Actor(None, "dpo", None)


@pytest.fixture
def s3() -> Iterator[S3Store]:
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
    raw.create_bucket(Bucket=BUCKET)
    raw.close()
    store = S3Store.connect(S3Settings(bucket=BUCKET, prefix="zentrale/", client=client))
    yield store
    store.close()
    stop_moto_server(server)


@pytest.mark.asyncio
async def test_purge_and_erasure_delete_the_s3_objects_and_keep_held_ones(
    db: Database, s3: S3Store, keyring: Keyring, clock: FakeClock
) -> None:
    maker = Maker(db, s3, keyring, clock)
    due = await maker.recording(await maker.call("s1", caller="+905550000001"))
    held = await maker.recording(await maker.call("s2", caller="+905550000002"))
    subject = await maker.recording(
        await maker.call("s3", caller="+905550000003", department="support")
    )
    await HoldStore(db, clock).add(HoldScope.RECORDING, held, "audit by the regulator", ADMIN)
    keys = {rid: (await RecordingStore(db).get(rid)).object_key for rid in (due, held, subject)}
    assert sorted(s3.list()) == sorted(str(k) for k in keys.values())
    rules = parse_retention(
        "default: 1y\nrules:\n  - {name: sales, when: {department: sales}, keep: 90d}\n"
    )
    clock.advance(91 * DAY)

    dry = await Purger(db, s3).run(rules, clock.now, dry_run=True)
    assert {(i.id, i.status) for i in dry.items} == {(due, "due"), (held, "held")}
    assert len(list(s3.list())) == 3

    report = await Purger(db, s3).run(rules, clock.now, dry_run=False)
    assert report.count("destroyed") == 2  # the recording and then its call's numbers
    assert sorted(s3.list()) == sorted([str(keys[held]), str(keys[subject])])
    receipt = await erase(
        db=db,
        store=s3,
        query=SubjectQuery(number="+905550000003"),
        who=Requester(ADMIN, "request 9"),
        now=clock.now,
    )
    assert ("recording", subject) in {(i["type"], i["id"]) for i in receipt.removed}
    assert list(s3.list()) == [str(keys[held])]
    store = RecordingStore(db)
    assert (await store.get(due)).state is RecordingState.DELETED
    assert (await store.get(subject)).state is RecordingState.DELETED
    assert decrypt(s3, await store.get(held), [LocalKeyProvider(keyring)]) == make_wav(1.0)
