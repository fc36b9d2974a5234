"""CallStore: a call's row through its life, its ordered timeline, and no sensitive digits."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from zentrale.calls.errors import CallNotFoundError
from zentrale.calls.models import EventKind, Outcome
from zentrale.calls.store import (
    CallStore,
    CallUpdate,
    Hangup,
    NewEvent,
    TimelineRows,
    append_events,
    insert_call,
    new_call_values,
    update_call,
)
from zentrale.db.session import Database

from .conftest import START_TIME, FakeClock, inbound

CARD = "4111111111111111"
ISTANBUL = dt.timezone(dt.timedelta(hours=3))


@pytest.mark.asyncio
async def test_a_call_is_created_updated_and_finished(calls: CallStore) -> None:
    await calls.create(inbound())
    answered = START_TIME + dt.timedelta(seconds=2)
    await calls.update(
        "call-1",
        CallUpdate(
            department="sales",
            agent_endpoint="PJSIP/1001",
            agent_name="Ayşe",
            answered_by_app_at=answered,
            consent_version="v2",
            consent_language="tr",
        ),
    )
    ended = dt.datetime(2026, 3, 2, 12, 5, tzinfo=ISTANBUL)
    await calls.finish(
        "call-1",
        Hangup(
            outcome=Outcome.ANSWERED, ended_at=ended, cause_code=16, cause_text="Normal Clearing"
        ),
    )

    call = await calls.get("call-1")
    assert (call.caller_number, call.department, call.agent_name) == (
        "+905551112233",
        "sales",
        "Ayşe",
    )
    assert (call.outcome, call.hangup_cause_code, call.hangup_cause_text) == (
        Outcome.ANSWERED,
        16,
        "Normal Clearing",
    )
    assert call.arrived_at == START_TIME
    assert call.arrived_at.tzinfo is not None
    assert call.answered_by_app_at == answered
    assert call.ended_at == ended
    assert call.ended_at is not None
    assert call.ended_at.utcoffset() == dt.timedelta(0)
    assert (call.consent_version, call.rules_version) == ("v2", "3f2a9c1b4d5e")


@pytest.mark.asyncio
async def test_update_leaves_unset_fields_alone(calls: CallStore) -> None:
    await calls.create(inbound())
    await calls.update("call-1", CallUpdate(department="sales"))
    await calls.update("call-1", CallUpdate(queued_at=START_TIME))
    call = await calls.get("call-1")
    assert (call.department, call.queued_at, call.language) == ("sales", START_TIME, "tr")


@pytest.mark.asyncio
async def test_unknown_calls_are_reported(calls: CallStore) -> None:
    with pytest.raises(CallNotFoundError):
        await calls.get("nope")
    with pytest.raises(CallNotFoundError):
        await calls.update("nope", CallUpdate(department="sales"))
    with pytest.raises(CallNotFoundError):
        await calls.finish("nope", Hangup(Outcome.FAILED, START_TIME))
    with pytest.raises(CallNotFoundError):
        await calls.add_event("nope", EventKind.HANGUP)


@pytest.mark.asyncio
async def test_row_writes_naming_no_column_are_refused_by_name(
    calls: CallStore, db: Database
) -> None:
    # The statements take a row's values as parameters named as columns; a name that is no
    # column would otherwise be left out without a word.
    await calls.create(inbound())
    event = NewEvent(EventKind.HANGUP, {}, START_TIME)
    writes = [
        lambda s: insert_call(s, {**new_call_values(inbound("call-2")), "agnet_name": "Ayşe"}),
        lambda s: update_call(s, "call-1", {"department": "sales", "agnet_name": "Ayşe"}),
        lambda s: append_events(s, "call-1", [event], TimelineRows(), values={"agnet_name": "A"}),
    ]
    for write in writes:
        with pytest.raises(ValueError, match="not columns of calls: agnet_name"):
            async with db.write() as session:
                await write(session)
    call = await calls.get("call-1")
    assert (call.department, call.agent_name, call.last_event_seq) == (None, None, 0)
    with pytest.raises(CallNotFoundError):
        await calls.get("call-2")


@pytest.mark.asyncio
async def test_a_call_id_is_stored_once(calls: CallStore) -> None:
    await calls.create(inbound())
    with pytest.raises(IntegrityError):
        await calls.create(inbound())


@pytest.mark.asyncio
async def test_naive_times_are_refused(calls: CallStore) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        await calls.create(inbound(at=dt.datetime(2026, 3, 2, 9, 0)))
    with pytest.raises(CallNotFoundError):
        await calls.get("call-1")


@pytest.mark.asyncio
async def test_events_are_numbered_in_order_per_call(calls: CallStore, clock: FakeClock) -> None:
    await calls.create(inbound("a"))
    await calls.create(inbound("b"))
    kinds = [EventKind.ANSWERED, EventKind.MENU_ENTERED, EventKind.QUEUED, EventKind.HANGUP]
    for kind in kinds:
        clock.advance(1)
        await calls.add_event("a", kind, {"menu": "main"})
    await calls.add_event("b", EventKind.HANGUP)

    events = await calls.events("a")
    assert [(event.seq, event.kind) for event in events] == list(enumerate(kinds, start=1))
    assert [event.at for event in events] == [
        START_TIME + dt.timedelta(seconds=n) for n in range(1, 5)
    ]
    assert events[0].detail == {"menu": "main"}
    assert [event.seq for event in await calls.events("b")] == [1]


@pytest.mark.asyncio
async def test_concurrent_writers_get_distinct_consecutive_numbers(
    db: Database, clock: FakeClock
) -> None:
    """Twenty tasks on separate connections append at once; no number is lost or doubled."""
    store = CallStore(db, clock)
    await store.create(inbound())
    seqs = await asyncio.gather(
        *(store.add_event("call-1", EventKind.DIGIT, {"digit": str(n % 10)}) for n in range(20))
    )
    assert sorted(seqs) == list(range(1, 21))
    assert [event.seq for event in await store.events("call-1")] == list(range(1, 21))


@pytest.mark.asyncio
async def test_sensitive_digits_never_reach_the_database(
    calls: CallStore, db: Database, database_url: str
) -> None:
    await calls.create(inbound())
    await calls.add_event("call-1", EventKind.DIGIT, {"digits": "12"})
    await calls.add_event(
        "call-1",
        EventKind.DIGIT,
        {
            "prompt": "card-number",
            "digits": CARD,
            "so_far": CARD[:6],
            "attempts": [{"value": CARD[-4:]}],
        },
        sensitive=True,
    )

    plain, masked = await calls.events("call-1")
    assert plain.detail == {"digits": "12"}
    assert masked.detail == {
        "prompt": "card-number",
        "digits": "***",
        "so_far": "***",
        "attempts": [{"value": "***"}],
    }
    async with db.read() as session:
        stored = (await session.execute(text("SELECT detail FROM call_events"))).scalars().all()
    assert not any(CARD[-4:] in str(detail) or CARD[:6] in str(detail) for detail in stored)
    assert any("12" in str(detail) for detail in stored)
    if database_url.startswith("sqlite"):
        await db.close()  # checkpoint: what is left on disk is what was written
        assert not _files_contain(Path(database_url.split("///", 1)[1]), CARD[-4:].encode())


@pytest.mark.asyncio
async def test_oversized_event_details_are_refused(calls: CallStore) -> None:
    await calls.create(inbound())
    with pytest.raises(ValueError, match="bytes; the limit is"):
        await calls.add_event("call-1", EventKind.TRANSFER, {"note": "x" * 5000})
    assert await calls.events("call-1") == []


@pytest.mark.asyncio
async def test_events_go_with_their_call_when_it_is_deleted(calls: CallStore, db: Database) -> None:
    """Foreign keys are enforced (on SQLite only with PRAGMA foreign_keys=ON)."""
    await calls.create(inbound())
    await calls.add_event("call-1", EventKind.HANGUP)
    async with db.write() as session:
        await session.execute(text("DELETE FROM calls WHERE id = 'call-1'"))
    async with db.read() as session:
        left = await session.execute(text("SELECT count(*) FROM call_events"))
        assert left.scalar_one() == 0
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            await session.execute(
                text(
                    "INSERT INTO call_events (call_id, seq, at, kind, detail) "
                    "VALUES ('ghost', 1, '2026-03-02 09:00:00', 'hangup', '{}')"
                )
            )


def _files_contain(database: Path, needle: bytes) -> bool:
    return any(needle in path.read_bytes() for path in database.parent.glob(database.name + "*"))


@pytest.mark.asyncio
async def test_closing_calls_a_crash_left_open_spares_those_of_the_new_daemon(
    calls: CallStore,
) -> None:
    # The new daemon started at START + 60 s. A call of the dead daemon, one it adopted, and
    # one that arrived while its first resync ran (before this close): only the first ends.
    started = START_TIME + dt.timedelta(seconds=60)
    await calls.create(inbound("dead", at=START_TIME))
    await calls.add_event("dead", EventKind.QUEUED, at=START_TIME + dt.timedelta(seconds=5))
    await calls.create(inbound("adopted", at=START_TIME + dt.timedelta(seconds=1)))
    await calls.create(inbound("new", at=started + dt.timedelta(seconds=0.2)))
    await calls.create(inbound("other-node", at=START_TIME, asterisk_node="node2"))

    closed = await calls.close_interrupted(
        "node1", "zentrale", arrived_before=started, keep={"adopted"}
    )

    assert closed == 1
    dead = await calls.get("dead")
    assert dead.outcome == Outcome.INTERRUPTED
    assert dead.ended_at == START_TIME + dt.timedelta(seconds=5)  # its last event
    for open_id in ("adopted", "new", "other-node"):
        call = await calls.get(open_id)
        assert (call.outcome, call.ended_at) == (None, None), open_id
