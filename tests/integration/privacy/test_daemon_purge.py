"""The daemon's scheduled purge: it runs at start and again once the (fake) clock passes the
interval, shredding what is due. The daemon talks to a fake ARI server: no call is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from zentrale.config.settings import (
    DatabaseSettings,
    HttpSettings,
    KeySettings,
    PromptSettings,
    RecipientSettings,
    RecordingSettings,
    RetentionSettings,
    RoutingSettings,
    Settings,
    StorageSettings,
)
from zentrale.daemon import Daemon
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording.keys.local import Keyring
from zentrale.recording.models import RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.testing.fake_ari import FakeAri

from .conftest import DAY, REPO, FakeClock, Maker

RULES = "default: 30d\n"


@pytest.mark.asyncio
async def test_the_daemon_purges_on_start_and_after_each_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"sqlite+aiosqlite:///{tmp_path}/z.db"
    store = LocalStore(tmp_path / "recordings")
    keyring = Keyring.generate("daemon")
    keyring.save(tmp_path / "keyring.json")
    async with Database.open(url) as db:
        await upgrade_engine(db.engine)
        maker = Maker(db, store, keyring, clock)
        old = await maker.recording(await maker.call("old"))
        clock.advance(20 * DAY)
        young = await maker.recording(await maker.call("young", caller="+905550000001"))
    clock.advance(11 * DAY)  # `old` is 31 days old, `young` 11
    (tmp_path / "retention.yaml").write_text(RULES)
    settings = Settings(
        state_dir=tmp_path,
        routing=RoutingSettings(
            file=REPO / "config" / "routing.yaml", history_dir=tmp_path / "history"
        ),
        database=DatabaseSettings(url=SecretStr(url)),
        http=HttpSettings(enabled=False),
        prompts=PromptSettings(dir=tmp_path / "prompts"),
        recording=RecordingSettings(temp_dir=tmp_path / "tmp"),
        storage=StorageSettings(path=store.root),
        keys=KeySettings(
            recipients=(
                RecipientSettings(provider="local", keyring_file=tmp_path / "keyring.json"),
            )
        ),
        retention=RetentionSettings(file=tmp_path / "retention.yaml", interval=DAY),
    )
    ari = FakeAri(app="zentrale")
    await ari.start()
    try:
        async with Daemon.running(
            settings, credentials=ari.credentials, clock=clock, drain_seconds=1
        ) as daemon:
            schedule = daemon.purge
            assert schedule is not None
            await schedule.wait_runs(1)
            assert schedule.last is not None
            assert [i.id for i in schedule.last.items if i.status == "destroyed"] == [old, "old"]
            clock.advance(DAY)  # not yet due for `young` (19 days later it will be)
            await schedule.wait_runs(2)
            assert schedule.last.count("destroyed") == 0
            clock.advance(19 * DAY)
            await schedule.wait_runs(3)
            assert {i.id for i in schedule.last.items} == {young, "young"}
            recordings = RecordingStore(daemon.db)
            assert (await recordings.get(old)).state is RecordingState.DELETED
            assert (await recordings.get(young)).state is RecordingState.DELETED
    finally:
        await ari.close()
    assert list(store.list()) == []
