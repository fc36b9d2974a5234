"""Several nodes' recording sources, the counting journal and the settings diff of SIGHUP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import generate_latest

from zentrale.calls.models import Direction, Outcome
from zentrale.calls.store import CallStore, Hangup, NewCall
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.ops.journal import CountingJournal
from zentrale.ops.metrics import Metrics
from zentrale.ops.nodes import NodeSources, call_id
from zentrale.ops.process import parse_metrics, sample
from zentrale.recording.sources import SourceMissingError
from zentrale.recording.store import RecordingStore
from zentrale.service import changed_keys

AT = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


class Spool:
    """A recording source that says which node's spool answered."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.fetched: list[str] = []
        self.deleted: list[str] = []

    async def fetch(self, name: str, target: Path) -> int:
        self.fetched.append(name)
        self.written = target  # the test reads which spool answered from `fetched`
        return len(self.node)

    async def delete(self, name: str) -> None:
        self.deleted.append(name)


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    await upgrade_engine(database.engine)
    try:
        yield database
    finally:
        await database.close()


async def _call(db: Database, ident: str, node: str) -> None:
    await CallStore(db).create(NewCall(ident, Direction.INBOUND, AT, asterisk_node=node))


def test_call_id_of_recording_names() -> None:
    assert call_id("3f2a9c-1") == "3f2a9c"
    assert call_id("3f2a9c-2-agent") == "3f2a9c"


@pytest.mark.asyncio
async def test_recordings_are_fetched_from_the_node_that_made_them(
    db: Database, tmp_path: Path
) -> None:
    await _call(db, "aaaa", "node-a")
    await _call(db, "bbbb", "node-b")
    await _call(db, "cccc", "node-c")
    own, peer = Spool("node-a"), Spool("node-b")
    sources = NodeSources(node="node-a", own=own, peers={"node-b": peer}, db=db)
    await sources.fetch("aaaa-1", tmp_path / "1.wav")
    await sources.fetch("bbbb-1-agent", tmp_path / "2.wav")
    await sources.delete("bbbb-1-agent")
    assert own.fetched == ["aaaa-1"]
    assert peer.fetched == ["bbbb-1-agent"]
    assert peer.deleted == ["bbbb-1-agent"]
    with pytest.raises(SourceMissingError, match=r"node 'node-c', which ops\.peers does not list"):
        await sources.fetch("cccc-1", tmp_path / "3.wav")


@pytest.mark.asyncio
async def test_the_journal_counts_active_and_ended_calls(db: Database) -> None:
    metrics = Metrics()
    journal = CountingJournal(metrics, CallStore(db), RecordingStore(db))
    journal.start()
    try:
        journal.arrived(NewCall("in1", Direction.INBOUND, AT))
        journal.arrived(NewCall("out1", Direction.OUTBOUND, AT))
        assert journal.active == 2
        journal.finished("in1", Hangup(Outcome.ANSWERED, AT))
        journal.finished("in1", Hangup(Outcome.ANSWERED, AT))  # a repeat is not counted twice
        assert journal.active == 1
        await journal.flush()
    finally:
        await journal.close()
    samples = parse_metrics(generate_latest(metrics.registry).decode())
    assert sample(samples, "zentrale_calls_total", direction="inbound", outcome="answered") == 1
    assert sample(samples, "zentrale_calls_total", direction="outbound", outcome="busy") == 0


def test_changed_settings_keys() -> None:
    old = Settings().model_dump()
    new = Settings.model_validate(
        {"logging": {"level": "debug"}, "recording": {"workers": 3}}
    ).model_dump()
    assert changed_keys(old, new) == ["logging.level", "recording.workers"]
    assert changed_keys(old, old) == []
