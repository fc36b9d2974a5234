"""The callbacks promised to a data subject at wrap-up (their number) are in the subject's export,
and erasing the subject removes them."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from zentrale.calls.models import Call
from zentrale.core import audit
from zentrale.customers import wrapup
from zentrale.db.session import Database
from zentrale.privacy.subjects import Requester, SubjectQuery, erase, export
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.storage.local import LocalStore

from .conftest import FakeClock, Maker, rows_containing

pytestmark = pytest.mark.asyncio
NUMBER = "+905551112233"


async def test_erasure_removes_the_callbacks_of_the_subjects_calls(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    await maker.call("c1", caller=NUMBER)
    async with db.write() as session:
        call = await session.get(Call, "c1")
        assert call is not None
        wrap = wrapup.WrapUp(
            suggestion="faster delivery", callback_at=clock.now + dt.timedelta(hours=1)
        )
        record = await wrapup.save(session, call, wrap, ("u1", "Ayla"), clock.now)
    assert [table for table, _ in await rows_containing(db, NUMBER)].count("callbacks") == 1

    who = Requester(audit.Actor(None, "dpo", None), "KVKK art. 11 request")
    receipt = await erase(
        db=db, store=store, query=SubjectQuery(number=NUMBER), who=who, now=clock.now
    )

    removed = {(item["type"], item["id"]) for item in receipt.removed}
    assert ("callback", record.callbacks[0].id) in removed
    assert "callbacks" not in [table for table, _ in await rows_containing(db, NUMBER)]
    async with db.read() as session:
        assert await wrapup.due(session, clock.now + dt.timedelta(days=1)) == []


async def test_the_export_holds_the_callbacks_of_the_subjects_calls(
    db: Database,
    maker: Maker,
    store: LocalStore,
    keyring: Keyring,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    await maker.call("c1", caller=NUMBER)
    await maker.call("c2", caller="+905559998877")  # someone else's callback stays out
    due = clock.now + dt.timedelta(hours=1)
    for call_id in ("c1", "c2"):
        async with db.write() as session:
            call = await session.get(Call, call_id)
            assert call is not None
            wrap = wrapup.WrapUp(notes="call back about the offer", callback_at=due)
            await wrapup.save(session, call, wrap, ("u1", "Ayla"), clock.now)

    out = tmp_path / "subject.zip"
    who = Requester(audit.Actor(None, "dpo", None), "KVKK art. 11 request")
    index = await export(
        db=db,
        store=store,
        unwrappers=[LocalKeyProvider(keyring)],
        query=SubjectQuery(number=NUMBER),
        who=who,
        out=out,
        now=clock.now,
    )

    with zipfile.ZipFile(out) as archive:
        written = json.loads(archive.read("index.json"))
    assert written["callbacks"] == index["callbacks"]
    (callback,) = written["callbacks"]
    assert (callback["call_id"], callback["number"], callback["state"]) == (
        "c1",
        NUMBER,
        "scheduled",
    )
    assert dt.datetime.fromisoformat(callback["due_at"]) == due
