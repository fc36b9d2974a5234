"""The retention purge on SQLite and PostgreSQL with a fake clock: what goes, what stays."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from zentrale.calls.agent_states import AgentStateRow, LogState
from zentrale.calls.models import Call, Direction
from zentrale.config.settings import Settings
from zentrale.core.audit import Actor
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database
from zentrale.privacy.holds import HoldStore
from zentrale.privacy.models import DestroyedKind, DestructionRecord, HoldScope
from zentrale.privacy.purge import Purger, purger_for
from zentrale.privacy.rules import RetentionRules, parse_retention
from zentrale.qa.models import RecordingTag
from zentrale.recording.keys.base import KeyProviderError
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.base import ObjectInfo, StorageUnavailableError
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.testing.recordings import decrypt

from .conftest import DAY, FakeClock, Maker, make_wav

RULES = """\
default: 1y
rules:
  - name: complaints
    when: {tag: complaint}
    keep: 2y
  - name: sales
    when: {department: sales}
    keep: 180d
"""
ADMIN = Actor(None, "tester", None)


def rules() -> RetentionRules:
    return parse_retention(RULES, "retention.yaml")


async def recording(db: Database, rid: str) -> Recording:
    return await RecordingStore(db).get(rid)


async def destruction_records(db: Database) -> list[DestructionRecord]:
    async with db.read() as session:
        return list(await session.scalars(select(DestructionRecord)))


async def tag(db: Database, rid: str, name: str, clock: FakeClock) -> None:
    async with db.write() as session:
        session.add(RecordingTag(recording_id=rid, tag=name, added_by="t", added_at=clock.now))


@pytest.mark.asyncio
async def test_dry_run_lists_what_is_due_and_changes_nothing(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    rid = await maker.recording(await maker.call("s1"))
    before = await recording(db, rid)
    clock.advance(181 * DAY)
    report = await Purger(db, store).run(rules(), clock.now, dry_run=True)
    assert [(i.id, i.rule, i.status) for i in report.items] == [(rid, "sales", "due")]
    after = await recording(db, rid)
    assert after.state is RecordingState.STORED
    assert after.wrapped_keys == before.wrapped_keys
    assert after.object_key is not None
    assert store.exists(after.object_key)
    assert await destruction_records(db) == []


@pytest.mark.asyncio
async def test_purge_shreds_expired_recordings_and_keeps_young_and_held_ones(
    db: Database, maker: Maker, store: LocalStore, keyring: Keyring, clock: FakeClock
) -> None:
    sales = await maker.recording(await maker.call("s1"))
    held = await maker.recording(await maker.call("s2", caller="+905550000002"))
    complaint = await maker.recording(await maker.call("c1", caller="+905550000003"))
    await tag(db, complaint, "complaint", clock)
    support = await maker.recording(await maker.call("o1", department="support"))
    hold = await HoldStore(db, clock).add(HoldScope.CALL, "s2", "lawsuit 12/2026", ADMIN)
    row = await recording(db, sales)
    assert row.object_key is not None
    backup = b"".join(store.get(row.object_key))
    unwrappers = [LocalKeyProvider(keyring)]

    clock.advance(181 * DAY)
    report = await Purger(db, store).run(rules(), clock.now, dry_run=False)

    statuses = {(i.kind, i.id): i.status for i in report.items}
    assert statuses == {
        (DestroyedKind.RECORDING, sales): "destroyed",
        (DestroyedKind.RECORDING, held): "held",
        (DestroyedKind.CALL_NUMBERS, "s1"): "destroyed",
    }  # s2's call record waits for its recording
    gone = await recording(db, sales)
    assert gone.state is RecordingState.DELETED
    assert gone.wrapped_keys == []
    assert gone.encryption_header is None
    assert gone.waveform is None
    assert (gone.talk_segments, gone.agent_talk_ratio, gone.talk_customer_s) == (None, None, None)
    assert row.talk_segments is not None  # they were there before the purge
    assert not store.exists(row.object_key)
    # Crypto-shredding: even the object restored from a backup cannot be decrypted.
    store.put(row.object_key, [backup])
    with pytest.raises(KeyProviderError):
        decrypt(store, gone, unwrappers)
    for kept in (held, complaint, support):
        assert decrypt(store, await recording(db, kept), unwrappers) == make_wav(1.0)

    records = {r.kind: r for r in await destruction_records(db)}
    shredded = records[DestroyedKind.RECORDING]
    assert (shredded.recording_id, shredded.call_id, shredded.rule) == (sales, "s1", "sales")
    assert shredded.reason.value == "retention"
    assert shredded.object_key == row.object_key
    assert shredded.sha256_plain == row.sha256_plain
    assert shredded.sha256_cipher == row.sha256_cipher
    assert shredded.destroyed_at == clock.now
    assert shredded.keep_until >= clock.now + dt.timedelta(days=3 * 365)
    assert all("+90555" not in str(value) for value in vars(shredded).values())
    async with db.read() as session:
        call = await session.get(Call, "s1")
        kept_call = await session.get(Call, "s2")
    assert call is not None
    assert call.caller_number == "+90555*****33"
    assert kept_call is not None
    assert kept_call.caller_number == "+905550000002"

    async with db.read() as session:
        entry = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()))).first()
    assert entry is not None
    assert (entry.action, entry.actor_name) == ("retention.purge", "retention")
    assert entry.detail == {"recording": 1, "call_numbers": 1, "agent_states": 0, "failed": 0}

    # Idempotent: a second run at the same time destroys nothing more.
    again = await Purger(db, store).run(rules(), clock.now, dry_run=False)
    assert again.count("destroyed") == 0
    assert len(await destruction_records(db)) == 2

    # Released, the held recording goes on the next run; a year on, the default rule's too.
    await HoldStore(db, clock).release(hold.id, "case closed", ADMIN)
    clock.advance(185 * DAY)
    later = await Purger(db, store).run(rules(), clock.now, dry_run=False)
    destroyed = {i.id for i in later.items if i.status == "destroyed"}
    assert destroyed == {held, support, "s2", "o1"}
    assert (await recording(db, complaint)).state is RecordingState.STORED


class FlakyStore(LocalStore):
    """A local store whose deletes fail while `down` is set (a storage outage)."""

    down = True

    def delete(self, key: str) -> None:
        if self.down:
            raise StorageUnavailableError("connection refused")
        super().delete(key)

    def head(self, key: str) -> ObjectInfo:
        return super().head(key)


@pytest.mark.asyncio
async def test_storage_outage_keeps_the_recording_and_the_next_run_retries(
    db: Database, maker: Maker, store: LocalStore, keyring: Keyring, clock: FakeClock
) -> None:
    rid = await maker.recording(await maker.call("s1"))
    flaky = FlakyStore(store.root)
    clock.advance(200 * DAY)
    report = await Purger(db, flaky).run(rules(), clock.now, dry_run=False)
    assert [(i.id, i.status) for i in report.failed] == [(rid, "failed")]
    assert "connection refused" in report.failed[0].note
    kept = await recording(db, rid)
    assert kept.state is RecordingState.STORED
    assert decrypt(store, kept, [LocalKeyProvider(keyring)]) == make_wav(1.0)
    assert await destruction_records(db) == []
    async with db.read() as session:
        call = await session.get(Call, "s1")
    assert call is not None
    assert call.caller_number == "+905551112233"

    flaky.down = False
    retried = await Purger(db, flaky).run(rules(), clock.now, dry_run=False)
    assert retried.count("destroyed") == 2
    assert retried.failed == []
    assert (await recording(db, rid)).state is RecordingState.DELETED


@pytest.mark.asyncio
async def test_a_crash_after_the_object_was_deleted_is_finished_by_the_next_run(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    rid = await maker.recording(await maker.call("s1", direction=Direction.OUTBOUND))
    row = await recording(db, rid)
    assert row.object_key is not None
    store.delete(row.object_key)  # the purge died right after deleting the object
    clock.advance(181 * DAY)
    report = await Purger(db, store).run(rules(), clock.now, dry_run=False)
    assert report.count("destroyed", DestroyedKind.RECORDING) == 1
    records = await destruction_records(db)
    assert [r.recording_id for r in records if r.kind is DestroyedKind.RECORDING] == [rid]
    assert (await recording(db, rid)).wrapped_keys == []


@pytest.mark.asyncio
async def test_two_nodes_purging_at_once_destroy_each_item_once(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    made = [
        await maker.recording(await maker.call(f"s{n}", caller=f"+90555000000{n}"))
        for n in range(4)
    ]
    clock.advance(181 * DAY)
    first, second = await asyncio.gather(
        Purger(db, store).run(rules(), clock.now, dry_run=False),
        Purger(db, store).run(rules(), clock.now, dry_run=False),
    )
    assert first.failed == []
    assert second.failed == []
    records = await destruction_records(db)
    shredded = sorted(r.recording_id for r in records if r.kind is DestroyedKind.RECORDING)
    assert shredded == sorted(made)
    masked = sorted(r.call_id for r in records if r.kind is DestroyedKind.CALL_NUMBERS)
    assert masked == ["s0", "s1", "s2", "s3"]


@pytest.mark.asyncio
async def test_agent_state_rows_past_their_period_are_deleted_and_audited(
    db: Database, store: LocalStore, clock: FakeClock, tmp_path: Path
) -> None:
    settings = Settings(state_dir=tmp_path, retention={"agent_states_days": 365})
    now = clock.now
    ago = [
        ("old", 500, 400),  # ended 400 days ago: past the period
        ("edge", 366, 365),  # ended exactly 365 days ago: due
        ("ends-inside", 400, 300),  # started before the cutoff, ended after: kept
        ("young", 10, 9),
        ("open", 500, None),  # still lasting (signed in): never deleted
    ]
    async with db.write() as session:
        for name, started, ended in ago:
            session.add(
                AgentStateRow(
                    endpoint="PJSIP/1001",
                    agent_name=name,
                    node="n1",
                    state=LogState.AVAILABLE,
                    started_at=now - dt.timedelta(days=started),
                    ended_at=None if ended is None else now - dt.timedelta(days=ended),
                )
            )

    async def names() -> set[str | None]:
        async with db.read() as session:
            return set(await session.scalars(select(AgentStateRow.agent_name)))

    # The test's rules purge nothing else, so only the agent state rows are counted.
    dry = await purger_for(settings, db, store).run(rules(), now, dry_run=True)
    assert (dry.agent_states, dry.items) == (2, [])
    assert await names() == {"old", "edge", "ends-inside", "young", "open"}

    report = await purger_for(settings, db, store).run(rules(), now, dry_run=False)
    assert report.agent_states == 2
    assert await names() == {"ends-inside", "young", "open"}
    async with db.read() as session:
        entry = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()))).first()
    assert entry is not None
    assert (entry.action, entry.actor_name) == ("retention.purge", "retention")
    assert entry.detail == {"recording": 0, "call_numbers": 0, "agent_states": 2, "failed": 0}

    again = await purger_for(settings, db, store).run(rules(), now, dry_run=False)
    assert again.agent_states == 0
    # Without the setting's period (a bare Purger), agent state rows are left alone.
    later = await Purger(db, store).run(rules(), now + dt.timedelta(days=400), dry_run=False)
    assert later.agent_states == 0
    assert await names() == {"ends-inside", "young", "open"}
