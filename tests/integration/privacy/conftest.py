"""Fixtures for the data-protection tests: a migrated database (SQLite and PostgreSQL), a
local keyring, encrypted recordings in a real store, and helpers to make calls of a subject.

PostgreSQL: 127.0.0.1:5432, trust auth, a fresh `zentrale_privacy_<pid>_<n>` database per
test (dropped afterwards); `ZENTRALE_TEST_POSTGRES` overrides the admin DSN.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

import zentrale.migrations.schema  # noqa: F401  (every table on Base.metadata)
from zentrale.api import Deps, create_app
from zentrale.calls.models import Direction, Outcome
from zentrale.calls.store import CallStore, CallUpdate, Hangup, NewCall
from zentrale.config.settings import Settings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.db.base import Base
from zentrale.db.session import Database
from zentrale.qa.scorecards import load_scorecards
from zentrale.recording import talk, vault
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import FinishedRecording, RecordingStore, StoredRecording, WrappedKey
from zentrale.testing.clocks import START as START
from zentrale.testing.clocks import FakeClock as FakeClock
from zentrale.testing.databases import fresh_database, migrated_database
from zentrale.testing.recordings import tone_wav as make_wav

REPO = Path(__file__).resolve().parents[3]
DAY = 86400.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite or PostgreSQL, removed after the test."""
    with fresh_database(str(request.param), tmp_path, prefix="zentrale_privacy") as url:
        yield url


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    async with migrated_database(database_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    """The clock of the stores and of the purge."""
    return FakeClock()


@pytest.fixture
def keyring() -> Keyring:
    """The keyring that wraps the test recordings' data keys."""
    return Keyring.generate("test")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    """A real local object store."""
    return LocalStore(tmp_path / "objects")


@dataclass
class Maker:
    """Makes calls with stored, encrypted recordings in the test database."""

    db: Database
    store: ObjectStore
    keyring: Keyring
    clock: FakeClock

    async def call(
        self,
        call_id: str,
        caller: str = "+905551112233",
        department: str = "sales",
        direction: Direction = Direction.INBOUND,
        outcome: Outcome = Outcome.ANSWERED,
        at: dt.datetime | None = None,
        called: str | None = None,
    ) -> str:
        """Create a finished call arriving AT (default: the clock's now)."""
        at = at or self.clock.now
        calls = CallStore(self.db, self.clock)
        await calls.create(
            NewCall(
                id=call_id,
                direction=direction,
                arrived_at=at,
                caller_number=caller,
                dialled_number="+902120000000",
                called_number=called,
            )
        )
        await calls.update(call_id, CallUpdate(department=department, agent_endpoint="PJSIP/1001"))
        await calls.finish(call_id, Hangup(outcome, at + dt.timedelta(minutes=3)))
        return call_id

    async def recording(self, call_id: str, seconds: float = 1.0, freq: float = 440.0) -> str:
        """Store an encrypted recording of CALL_ID; return its id."""
        recordings = RecordingStore(self.db, self.clock)
        name = f"rec-{call_id}-{freq:.0f}"
        finished = FinishedRecording(
            call_id=call_id, asterisk_name=name, format="wav", duration_s=seconds
        )
        queued = await recordings.recording_finished(finished)
        audio = make_wav(seconds, freq)
        sealed = vault.seal(
            self.store,
            [LocalKeyProvider(self.keyring)],
            queued.recording_id,
            [audio],
            object_key=f"2026/03/{queued.recording_id}",
            segment_size=4096,
        )
        data = sealed.to_json()
        cipher = hashlib.sha256(b"".join(self.store.get(sealed.object_key))).hexdigest()
        await recordings.mark_stored(
            queued.recording_id,
            StoredRecording(
                plaintext_size=sealed.plaintext_size,
                object_size=sealed.object_size,
                sha256_plain=hashlib.sha256(audio).hexdigest(),
                sha256_cipher=cipher,
                storage_backend="local",
                object_key=sealed.object_key,
                wrapped_keys=[
                    WrappedKey(k["key_id"], k["provider"], k["wrapped"])
                    for k in data["wrapped_keys"]
                ],
                encryption_header={"format_version": 1, "segment_size": sealed.segment_size},
                stored_at=self.clock.now,
                duration_s=seconds,
                waveform=bytes(range(0, 250, 5)),
            ),
        )
        # Conversation figures as the pipeline's analysis leaves them: they go with the audio.
        tone = make_wav(seconds, freq)[44:]
        await recordings.set_talk(queued.recording_id, talk.conversation(tone, tone, 8000))
        return queued.recording_id


@pytest.fixture
def maker(db: Database, store: LocalStore, keyring: Keyring, clock: FakeClock) -> Maker:
    """Makes calls and recordings."""
    return Maker(db, store, keyring, clock)


async def rows_containing(db: Database, needle: str) -> list[tuple[str, dict[str, object]]]:
    """Return (table, row) for every row of every table whose text holds NEEDLE."""
    found = []
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(text(f'SELECT * FROM "{table.name}"'))
            for row in result.mappings():
                values = dict(row)
                if any(needle in _text(value) for value in values.values()):
                    found.append((table.name, values))
    return found


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


USERS = {
    "admin": (Role.ADMIN, ()),
    "super": (Role.SUPERVISOR, ("sales",)),
    "qa": (Role.QA, ("sales",)),
    "agent": (Role.AGENT, ("sales",)),
}


@pytest_asyncio.fixture
async def tokens(db: Database, clock: FakeClock) -> dict[str, str]:
    """One user per role, and each one's API token."""
    users = UserStore(db, clock)
    found = {}
    for name, (role, departments) in USERS.items():
        endpoint = "PJSIP/1001" if role is Role.AGENT else None
        user = await users.add(
            NewUser(
                username=name,
                display_name=name.title(),
                password="correct horse battery",
                role=role,
                departments=departments,
                agent_endpoint=endpoint,
            )
        )
        found[name] = (await users.issue_token(user.id, "tests", 30)).secret
    return found


@pytest_asyncio.fixture
async def client(
    db: Database, store: LocalStore, keyring: Keyring, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The QA app in-process (https, so secure cookies would be sent)."""
    deps = Deps(
        db=db,
        store=store,
        unwrappers=[LocalKeyProvider(keyring)],
        settings=Settings(state_dir=tmp_path),
        session_secret=b"test-secret",
        clock=clock,
        scorecards=load_scorecards(REPO / "config" / "scorecards.yaml"),
    )
    transport = httpx.ASGITransport(app=create_app(deps), client=("10.0.0.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http
