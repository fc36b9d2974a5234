"""Fixtures for the QA service tests: a migrated database (SQLite and PostgreSQL), encrypted
recordings in two departments, one user per role, and the app in-process (httpx ASGI).

PostgreSQL: 127.0.0.1:5432, trust auth, a fresh `zentrale_qa_<pid>_<n>` database per test
(dropped afterwards); `ZENTRALE_TEST_POSTGRES` overrides the admin DSN.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio

from zentrale.api import Deps, create_app
from zentrale.calls.models import Direction, EventKind
from zentrale.calls.store import CallStore, CallUpdate, NewCall
from zentrale.config.settings import ApiSettings, Settings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.db.session import Database
from zentrale.qa.scorecards import load_scorecards
from zentrale.recording import vault
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.storage.memory import MemoryStore
from zentrale.recording.store import FinishedRecording, RecordingStore, StoredRecording, WrappedKey
from zentrale.testing.clocks import START, FakeClock
from zentrale.testing.databases import fresh_database, migrated_database
from zentrale.testing.recordings import tone_wav as make_wav

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite or PostgreSQL, removed after the test."""
    with fresh_database(str(request.param), tmp_path, prefix="zentrale_qa") as url:
        yield url


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    async with migrated_database(database_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    """The service's clock."""
    return FakeClock()


@dataclass
class World:
    """What the fixtures put in the database, by name."""

    recordings: dict[str, str] = field(default_factory=dict)
    audio: dict[str, bytes] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        """Return the Authorization header of USER's token."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


USERS = {
    "admin": (Role.ADMIN, (), None),
    "super": (Role.SUPERVISOR, ("sales",), None),
    "qa": (Role.QA, ("sales",), None),
    "qa_support": (Role.QA, ("support",), None),
    "agent": (Role.AGENT, ("sales",), "PJSIP/1001"),
}

CALLS = {
    # name: (department, agent endpoint, direction, caller, seconds, minutes after START)
    "sales1": ("sales", "PJSIP/1001", Direction.INBOUND, "+905551112233", 6.0, 0),
    "sales2": ("sales", "PJSIP/1002", Direction.OUTBOUND, "+905559998877", 3.0, 10),
    "support1": ("support", "PJSIP/2001", Direction.INBOUND, "+4930123456", 4.0, 20),
}


async def _store_recording(
    db: Database,
    store: MemoryStore,
    keyring: Keyring,
    name: str,
    spec: tuple[Any, ...],
    clock: FakeClock,
) -> tuple[str, bytes]:
    department, agent, direction, caller, seconds, minutes = spec
    at = START + dt.timedelta(minutes=minutes)
    calls, recordings = CallStore(db, clock), RecordingStore(db, clock)
    await calls.create(NewCall(id=name, direction=direction, arrived_at=at, caller_number=caller))
    await calls.update(
        name,
        CallUpdate(department=department, agent_endpoint=agent, agent_name=f"Agent {agent[-4:]}"),
    )
    await calls.add_event(name, EventKind.RECORDING_STARTED, {}, at=at + dt.timedelta(seconds=5))
    survey = {"survey": "after", "question": 1, "answer": 2 if name == "sales1" else 5}
    await calls.add_event(name, EventKind.SURVEY_ANSWER, survey, at=at + dt.timedelta(seconds=9))
    clock.now = at + dt.timedelta(seconds=10)
    queued = await recordings.recording_finished(
        FinishedRecording(
            call_id=name, asterisk_name=f"rec-{name}", format="wav", duration_s=seconds
        )
    )
    audio = make_wav(seconds)
    sealed = vault.seal(
        store,
        [LocalKeyProvider(keyring)],
        queued.recording_id,
        [audio],
        object_key=f"2026/03/{queued.recording_id}",
        segment_size=4096,
    )
    data = sealed.to_json()
    await recordings.mark_stored(
        queued.recording_id,
        StoredRecording(
            plaintext_size=sealed.plaintext_size,
            object_size=sealed.object_size,
            sha256_plain=hashlib.sha256(audio).hexdigest(),
            sha256_cipher="0" * 64,
            storage_backend="memory",
            object_key=sealed.object_key,
            wrapped_keys=[
                WrappedKey(k["key_id"], k["provider"], k["wrapped"]) for k in data["wrapped_keys"]
            ],
            encryption_header={"format_version": 1, "segment_size": sealed.segment_size},
            stored_at=clock.now,
            duration_s=seconds,
            waveform=bytes(range(0, 250, 5)),
        ),
    )
    return queued.recording_id, audio


async def build_world(
    db: Database, store: MemoryStore, keyring: Keyring, clock: FakeClock
) -> World:
    """Fill the database: three stored recordings, one user (and token) per role."""
    world = World()
    for name, spec in CALLS.items():
        rid, audio = await _store_recording(db, store, keyring, name, spec, clock)
        world.recordings[name], world.audio[name] = rid, audio
    users = UserStore(db, clock)
    for name, (role, departments, endpoint) in USERS.items():
        user = await users.add(
            NewUser(
                username=name,
                display_name=name.title(),
                password=PASSWORD,
                role=role,
                departments=departments,
                agent_endpoint=endpoint,
            )
        )
        world.user_ids[name] = user.id
        world.tokens[name] = (await users.issue_token(user.id, "tests", 30)).secret
    return world


@pytest.fixture
def keyring() -> Keyring:
    """The development keyring that wraps the test recordings."""
    return Keyring.generate("test")


@pytest.fixture
def store() -> MemoryStore:
    """The object store holding the encrypted recordings."""
    return MemoryStore()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings: secure cookies (the client uses https://), 5 sign-in attempts a minute."""
    return Settings(state_dir=tmp_path, api=ApiSettings(login_attempts_per_minute=5))


@pytest_asyncio.fixture
async def world(db: Database, store: MemoryStore, keyring: Keyring, clock: FakeClock) -> World:
    """The filled database."""
    return await build_world(db, store, keyring, clock)


@pytest.fixture
def deps(
    db: Database, store: MemoryStore, keyring: Keyring, settings: Settings, clock: FakeClock
) -> Deps:
    """The QA service's collaborators."""
    return Deps(
        db=db,
        store=store,
        unwrappers=[LocalKeyProvider(keyring)],
        settings=settings,
        scorecards=load_scorecards(REPO / "config" / "scorecards.yaml"),
        session_secret=b"test-secret",
        clock=clock,
    )


@pytest_asyncio.fixture
async def client(deps: Deps, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process (https, so secure cookies are sent)."""
    transport = httpx.ASGITransport(app=create_app(deps), client=("10.0.0.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


async def sign_in(client: httpx.AsyncClient, user: str) -> str:
    """Sign USER in with the JSON login; return the session's CSRF token."""
    response = await client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])
