"""Key rotation and retirement on SQLite and PostgreSQL, with local, public and KMS keys.

Recordings are sealed for real (vault + a local object store) and marked stored through the
recording store, as the pipeline does; rotation then re-wraps their data keys. Every check
decrypts the whole object with the keys the test says may open it, and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner
from sqlalchemy import select, update

from zentrale.calls.models import Direction
from zentrale.calls.store import CallStore, NewCall
from zentrale.cli import main
from zentrale.db.session import Database
from zentrale.recording import vault
from zentrale.recording.aws import AwsClient, ClientSettings, make_client
from zentrale.recording.keys.base import (
    KeyServiceUnavailableError,
    KeyUnwrapper,
    KeyWrapper,
    NoMatchingKeyError,
    WrappedKey,
)
from zentrale.recording.keys.kms import KmsKeyProvider
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.recording.models import Recording
from zentrale.recording.rotation import Recipient, Rotation, key_usage
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import FinishedRecording, RecordingStore, StoredRecording
from zentrale.recording.store import WrappedKey as RowKey
from zentrale.testing.databases import fresh_database, migrated_database
from zentrale.testing.moto import MotoServer, start_moto_server, stop_moto_server
from zentrale.testing.recordings import decrypt

COUNT = 5


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path, prefix="zentrale_keys") as url:
        yield url


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with migrated_database(database_url) as database:
        yield database


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


async def record(
    db: Database, store: LocalStore, wrappers: Sequence[KeyWrapper], count: int = COUNT
) -> dict[str, bytes]:
    """Seal COUNT recordings of one call for WRAPPERS and mark them stored; id -> plaintext."""
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.UTC)
    await CallStore(db).create(NewCall(id=call_id, direction=Direction.INBOUND, arrived_at=now))
    recordings, made = RecordingStore(db), {}
    for n in range(count):
        queued = await recordings.recording_finished(FinishedRecording(call_id, f"r{n}", "wav"))
        audio = os.urandom(70_000 + n)
        sealed = vault.seal(store, wrappers, queued.recording_id, [audio])
        keys = [
            RowKey(**{k: item.to_json()[k] for k in ("key_id", "provider", "wrapped")})
            for item in sealed.wrapped_keys
        ]
        await recordings.mark_stored(
            queued.recording_id,
            StoredRecording(
                plaintext_size=len(audio),
                object_size=sealed.object_size,
                sha256_plain=hashlib.sha256(audio).hexdigest(),
                sha256_cipher="-",
                storage_backend="local",
                object_key=sealed.object_key,
                wrapped_keys=keys,
                encryption_header={"segment_size": sealed.segment_size},
                stored_at=now,
            ),
        )
        made[queued.recording_id] = audio
    return made


async def rows(db: Database) -> dict[str, Recording]:
    async with db.read() as session:
        return {row.id: row for row in await session.scalars(select(Recording))}


def objects(store: LocalStore, ids: Sequence[str]) -> dict[str, str]:
    return {rid: hashlib.sha256(b"".join(store.get(rid))).hexdigest() for rid in ids}


async def assert_opens_with(
    db: Database,
    store: LocalStore,
    made: dict[str, bytes],
    keys: Sequence[KeyUnwrapper],
    key_ids: set[str],
) -> None:
    found = await rows(db)
    for rid, audio in made.items():
        assert {item["key_id"] for item in found[rid].wrapped_keys} == key_ids
        assert decrypt(store, found[rid], keys) == audio


async def shred(db: Database, rid: str) -> None:
    async with db.write() as session:
        await session.execute(update(Recording).where(Recording.id == rid).values(wrapped_keys=[]))


@pytest.mark.asyncio
async def test_every_recording_opens_with_the_new_local_key_alone(
    db: Database, store: LocalStore
) -> None:
    old = Keyring.generate("old")
    made = await record(db, store, [LocalKeyProvider(old)])
    shredded = next(iter(made))
    await shred(db, shredded)
    before = objects(store, list(made))
    ring = old.with_new_primary("new")

    rotation = Rotation(db, [Recipient(LocalKeyProvider(ring), "new")], [LocalKeyProvider(ring)])
    report = await rotation.run()

    assert (report.rewrapped, report.shredded, report.complete) == (COUNT - 1, 1, True)
    new_alone = Keyring(primary="new", keys={"new": ring.keys["new"]})
    live = {rid: audio for rid, audio in made.items() if rid != shredded}
    await assert_opens_with(db, store, live, [LocalKeyProvider(new_alone)], {"new"})
    assert objects(store, list(made)) == before  # audio never re-encrypted
    # A shredded recording stays shredded and opens with no key at all.
    row = (await rows(db))[shredded]
    assert row.wrapped_keys == []
    with pytest.raises(NoMatchingKeyError):
        decrypt(store, row, [LocalKeyProvider(ring), LocalKeyProvider(old)])
    again = await rotation.run()
    assert (again.rewrapped, again.current, again.shredded) == (0, COUNT - 1, 1)


@pytest.mark.asyncio
async def test_public_key_rotation_moves_every_recording_to_the_new_identity(
    db: Database, store: LocalStore
) -> None:
    old, new, escrow = (PrivateKeyIdentity.generate() for _ in range(3))
    made = await record(db, store, [old.recipient(), escrow.recipient()])
    recipients = [
        Recipient(new.recipient(), new.key_id),
        Recipient(escrow.recipient(), escrow.key_id),
    ]

    report = await Rotation(db, recipients, [old]).run()

    assert report.rewrapped == COUNT
    await assert_opens_with(db, store, made, [new], {new.key_id, escrow.key_id})
    with pytest.raises(NoMatchingKeyError):
        decrypt(store, (await rows(db))[next(iter(made))], [old])
    usage = await key_usage(db)
    assert usage.of(old.key_id) is None
    assert (usage.of(new.key_id) or pytest.fail("unused")).recordings == COUNT


class FlakyKeys:
    """A keyring unwrapper whose key service goes down after LIMIT unwraps."""

    def __init__(self, ring: Keyring, limit: int) -> None:
        self._inner, self.limit, self.calls = LocalKeyProvider(ring), limit, 0

    def can_unwrap(self, wrapped: WrappedKey) -> bool:
        return self._inner.can_unwrap(wrapped)

    def unwrap(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        self.calls += 1
        if self.calls > self.limit:
            raise KeyServiceUnavailableError("key service down (test)")
        return self._inner.unwrap(wrapped, recording_id)


@pytest.mark.asyncio
async def test_an_interrupted_rotation_resumes_and_unwraps_each_recording_once(
    db: Database, store: LocalStore
) -> None:
    ring = Keyring.generate("old")
    made = await record(db, store, [LocalKeyProvider(ring)], count=7)
    ring = ring.with_new_primary("new")
    target = [Recipient(LocalKeyProvider(ring), "new")]
    flaky = FlakyKeys(ring, limit=3)

    with pytest.raises(KeyServiceUnavailableError):
        await Rotation(db, target, [flaky], batch=2).run()
    usage = await key_usage(db)
    # The batches before the outage were written.
    assert (usage.of("new") or pytest.fail("unused")).recordings == 3

    flaky.limit = 100
    report = await Rotation(db, target, [flaky], batch=2).run()
    assert (report.rewrapped, report.current) == (4, 3)
    assert flaky.calls == 3 + 1 + 4  # the 3 done, the failed try, the 4 left: none twice
    await assert_opens_with(db, store, made, [LocalKeyProvider(ring)], {"new"})


class ErasingKeys:
    """Unwraps like the keyring, but erases the recording meanwhile (another process)."""

    def __init__(self, ring: Keyring, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        self._inner, self._db, self._loop = LocalKeyProvider(ring), db, loop

    def can_unwrap(self, wrapped: WrappedKey) -> bool:
        return self._inner.can_unwrap(wrapped)

    def unwrap(self, wrapped: WrappedKey, recording_id: str) -> bytes:
        asyncio.run_coroutine_threadsafe(shred(self._db, recording_id), self._loop).result(30)
        return self._inner.unwrap(wrapped, recording_id)


@pytest.mark.asyncio
async def test_a_recording_erased_during_rotation_is_not_given_keys_again(
    db: Database, store: LocalStore
) -> None:
    ring = Keyring.generate("old")
    made = await record(db, store, [LocalKeyProvider(ring)], count=2)
    ring = ring.with_new_primary("new")
    erasing = ErasingKeys(ring, db, asyncio.get_running_loop())

    report = await Rotation(db, [Recipient(LocalKeyProvider(ring), "new")], [erasing]).run()

    assert (report.raced, report.rewrapped, report.complete) == (2, 0, False)
    assert all(row.wrapped_keys == [] for row in (await rows(db)).values())
    assert len(made) == 2


# -- the commands, on a settings file -------------------------------------------------------


def settings_file(tmp_path: Path, database_url: str, recipients: str) -> Path:
    path = tmp_path / "zentrale.yaml"
    path.write_text(
        f"database:\n  url: {database_url}\nstate_dir: {tmp_path / 'var'}\n"
        f"keys:\n  recipients:\n{recipients}"
    )
    return path


def local_recipient(keyring_file: Path) -> str:
    return f"    - provider: local\n      keyring_file: {keyring_file}\n"


def zentrale(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "--log-format", "json", *args])
    return result.exit_code, result.output


@pytest.mark.asyncio
async def test_keys_commands_rotate_then_retire_a_local_key(
    db: Database, store: LocalStore, database_url: str, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "ring.json"
    old = Keyring.generate("old")
    old.save(keyring_file)
    made = await record(db, store, [LocalKeyProvider(old)])
    config = settings_file(tmp_path, database_url, local_recipient(keyring_file))
    run = asyncio.to_thread

    code, out = await run(zentrale, config, "keys", "retire", "old")
    assert code == 1
    assert "key old is a primary key" in out
    code, out = await run(zentrale, config, "keys", "rotate", "--new-key", "--batch", "2")
    assert code == 0, out
    new = Keyring.load(keyring_file).primary
    assert new != "old"
    assert f"re-wrapped {COUNT}" in out

    code, out = await run(zentrale, config, "keys", "status")
    assert code == 0, out
    lines = {line.split()[0]: line.split() for line in out.splitlines()}
    assert lines[new][1:5] == ["local", "yes", str(COUNT), str(COUNT)]
    assert lines["old"][1:5] == ["local", "no", "0", "0"]

    code, out = await run(zentrale, config, "keys", "retire", "old")
    assert code == 0, out
    ring = Keyring.load(keyring_file)
    assert set(ring.keys) == {new}
    assert base64.b64encode(old.keys["old"]).decode() not in keyring_file.read_text()
    await assert_opens_with(db, store, made, [LocalKeyProvider(ring)], {new})
    code, out = await run(zentrale, config, "keys", "status")
    assert "old" not in {line.split()[0] for line in out.splitlines()}


@pytest.mark.asyncio
async def test_retire_refuses_while_recordings_depend_on_the_key_and_says_how_many(
    db: Database, store: LocalStore, database_url: str, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "ring.json"
    ring = Keyring.generate("old")
    await record(db, store, [LocalKeyProvider(ring)], count=3)
    ring = ring.with_new_primary("new")
    ring.save(keyring_file)
    await record(
        db,
        store,
        [LocalKeyProvider(ring), LocalKeyProvider(Keyring(primary="old", keys=ring.keys))],
        count=2,
    )
    config = settings_file(tmp_path, database_url, local_recipient(keyring_file))

    code, out = await asyncio.to_thread(zentrale, config, "keys", "retire", "old")

    assert code == 1
    assert "still protects 5 recordings (3 only by it, 2 also by other keys)" in out
    assert set(Keyring.load(keyring_file).keys) == {"old", "new"}


# -- KMS on moto ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = start_moto_server()
    yield server
    stop_moto_server(server)


@pytest.fixture
def kms(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClient]:
    for name, value in {
        "AWS_ENDPOINT_URL_KMS": moto.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    client = make_client("kms", ClientSettings(endpoint_url=moto.endpoint_url, max_attempts=1))
    yield client
    client.close()


def kms_key(client: AwsClient) -> str:
    return str(client.create_key(Description="zentrale rotation test")["KeyMetadata"]["Arn"])


@pytest.mark.asyncio
async def test_kms_rotation_then_retirement_on_moto(
    db: Database, store: LocalStore, kms: AwsClient, database_url: str, tmp_path: Path
) -> None:
    old, new = kms_key(kms), kms_key(kms)
    made = await record(db, store, [KmsKeyProvider(kms, old)])
    kms.create_alias(AliasName=f"alias/zentrale-{uuid.uuid4().hex[:8]}", TargetKeyId=new)
    config = settings_file(
        tmp_path, database_url, f"    - provider: kms\n      kms_key_id: {new}\n"
    )

    code, out = await asyncio.to_thread(zentrale, config, "keys", "rotate")
    assert code == 0, out

    code, out = await asyncio.to_thread(zentrale, config, "keys", "status")
    assert [line.split()[1:4] for line in out.splitlines() if line.startswith(new)] == [
        ["kms", "yes", str(COUNT)]
    ]
    code, out = await asyncio.to_thread(
        zentrale, config, "keys", "retire", old, "--pending-days", "7"
    )
    assert code == 0, out
    assert kms.describe_key(KeyId=old)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    # Every recording names only the new key, and opens with it (moto, unlike KMS, would
    # still let the old key decrypt while pending deletion, so that is not shown here).
    await assert_opens_with(db, store, made, [KmsKeyProvider(kms, new)], {new})
    code, out = await asyncio.to_thread(zentrale, config, "keys", "retire", new)
    assert code == 1
    assert "is a primary key" in out


@pytest.mark.asyncio
async def test_keys_commands_move_to_a_new_public_key_and_delete_the_old_private_key(
    db: Database, store: LocalStore, database_url: str, tmp_path: Path
) -> None:
    old, new = PrivateKeyIdentity.generate(), PrivateKeyIdentity.generate()
    made = await record(db, store, [old.recipient()])
    old_file, new_pub = tmp_path / "old.key.pem", tmp_path / "qa-2026.pub.pem"
    old_file.write_bytes(old.private_pem())
    new_pub.write_bytes(new.public_pem())  # the host holds only the new public key
    recipient = f"    - provider: public\n      public_key_file: {new_pub}\n"
    config = settings_file(tmp_path, database_url, recipient)
    run = asyncio.to_thread

    code, out = await run(zentrale, config, "keys", "rotate")
    assert code == 1  # nothing here opens the old wraps
    assert f"failed {COUNT}" in out
    code, out = await run(zentrale, config, "keys", "retire", old.key_id)
    assert code == 1
    assert f"still protects {COUNT} recordings ({COUNT} only by it" in out
    code, out = await run(zentrale, config, "keys", "rotate", "--identity", str(old_file))
    assert code == 0, out

    code, out = await run(
        zentrale, config, "keys", "retire", old.key_id, "--identity", str(old_file)
    )
    assert code == 0, out
    assert not old_file.exists()
    await assert_opens_with(db, store, made, [new], {new.key_id})
