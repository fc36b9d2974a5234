"""The customer store on SQLite and PostgreSQL: numbers, search, history, notes, lookups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from zentrale.calls.models import Direction
from zentrale.calls.store import CallStore, CallUpdate, NewCall
from zentrale.customers.errors import (
    CustomerNotFoundError,
    CustomerNumberTakenError,
    InvalidCustomerError,
    NumberTakenError,
)
from zentrale.customers.lookup import CustomerLookup
from zentrale.customers.models import NoteKind
from zentrale.customers.numbers import InvalidNumberError
from zentrale.customers.store import Changes, CustomerStore, NewCustomer, Scope
from zentrale.db.session import Database
from zentrale.recording.store import FinishedRecording
from zentrale.recording.store import RecordingStore as Recordings
from zentrale.testing.clocks import START, FakeClock
from zentrale.testing.databases import fresh_database

pytestmark = pytest.mark.asyncio


@pytest.fixture
def customers(db: Database, clock: FakeClock) -> CustomerStore:
    return CustomerStore(db, clock)


async def _call(
    calls: CallStore,
    call_id: str,
    minutes: int,
    *,
    caller: str | None = None,
    called: str | None = None,
    department: str = "sales",
    agent: str = "PJSIP/1001",
) -> None:
    direction = Direction.OUTBOUND if called else Direction.INBOUND
    at = START + dt.timedelta(minutes=minutes)
    await calls.create(
        NewCall(
            id=call_id,
            direction=direction,
            arrived_at=at,
            caller_number=caller,
            called_number=called,
            dialled_number="+902120000000",
        )
    )
    await calls.update(call_id, CallUpdate(department=department, agent_endpoint=agent))


async def test_numbers_are_stored_in_one_form_and_found_in_any(customers: CustomerStore) -> None:
    created = await customers.create(
        NewCustomer(["0090 555 111-22-33", "+49 (30) 123456"], name="Ayşe Demir", language="tr")
    )
    assert created.numbers == ("+4930123456", "+905551112233")
    assert created.missing == ("customer_number",)
    found = await customers.by_number("+90 555 111 22 33")
    assert found is not None
    assert found.id == created.id
    assert await customers.by_number("+905550000000") is None
    assert await customers.by_number("0555 111 22 33") is None  # national: cannot be matched


async def test_a_number_belongs_to_one_customer(customers: CustomerStore) -> None:
    first = await customers.create(NewCustomer(["+905551112233"], customer_number="K-1"))
    with pytest.raises(NumberTakenError, match=f"belongs to customer {first.id}"):
        await customers.create(NewCustomer(["+90 555 111 22 33"]))
    second = await customers.create(NewCustomer(["+905559998877"]))
    with pytest.raises(NumberTakenError):
        await customers.update(second.id, Changes(add_numbers=["+905551112233"]))
    with pytest.raises(CustomerNumberTakenError):
        await customers.update(second.id, Changes(fields={"customer_number": "K-1"}))
    # Nothing of the refused changes was kept.
    assert (await customers.get(second.id)).numbers == ("+905559998877",)


async def test_bad_input_is_refused_with_what_and_where(customers: CustomerStore) -> None:
    with pytest.raises(InvalidNumberError, match="'0555 111' is not an international"):
        await customers.create(NewCustomer(["0555 111"]))
    with pytest.raises(InvalidCustomerError, match="at least one phone number"):
        await customers.create(NewCustomer([]))
    record = await customers.create(NewCustomer(["+905551112233"]))
    with pytest.raises(InvalidCustomerError, match="language 'Deutsch' is not a language code"):
        await customers.update(record.id, Changes(fields={"language": "Deutsch"}))
    with pytest.raises(InvalidCustomerError, match="unknown field"):
        await customers.update(record.id, Changes(fields={"tier": "gold"}))
    with pytest.raises(InvalidCustomerError, match="keeps at least one phone number"):
        await customers.update(record.id, Changes(remove_numbers=["+905551112233"]))
    with pytest.raises(CustomerNotFoundError):
        await customers.get("no-such-id")


async def test_update_sets_fields_and_moves_numbers(
    customers: CustomerStore, clock: FakeClock
) -> None:
    record = await customers.create(NewCustomer(["+905551112233"]))
    clock.advance(60)
    changed = await customers.update(
        record.id,
        Changes(
            fields={"name": "Jonas Weber", "vip": True, "language": "de"},
            add_numbers=["+4915112345678"],
            remove_numbers=["+905551112233"],
        ),
    )
    assert (changed.name, changed.vip, changed.language) == ("Jonas Weber", True, "de")
    assert changed.numbers == ("+4915112345678",)
    assert changed.updated_at == clock.now
    assert changed.created_at == START
    assert changed.facts() == {"vip": "true", "language": "de"}
    assert await customers.by_number("+905551112233") is None


async def test_search_by_name_customer_number_and_number(customers: CustomerStore) -> None:
    ayse = await customers.create(NewCustomer(["+905551112233"], name="Ayşe Demir"))
    jonas = await customers.create(NewCustomer(["+4930123456"], name="Jonas", customer_number="K7"))
    assert [c.id for c in await customers.search("demir")] == [ayse.id]
    assert [c.id for c in await customers.search("K7")] == [jonas.id]
    assert [c.id for c in await customers.search("0555 111")] == [ayse.id]
    assert [c.id for c in await customers.search("+4930")] == [jonas.id]
    assert await customers.search("100%") == []  # LIKE wildcards are plain text
    with pytest.raises(InvalidCustomerError):
        await customers.search("  ")


async def test_history_newest_first_with_recordings_and_notes(
    db: Database, customers: CustomerStore, calls: CallStore, clock: FakeClock
) -> None:
    record = await customers.create(NewCustomer(["+905551112233", "+4930123456"]))
    await _call(calls, "in-1", 0, caller="+905551112233")
    await _call(calls, "out-2", 30, called="+4930123456", department="support", agent="PJSIP/2")
    await _call(calls, "other", 40, caller="+905559999999")
    await Recordings(db, clock).recording_finished(
        FinishedRecording(call_id="in-1", asterisk_name="rec-in-1", format="wav", duration_s=4.0)
    )
    note = await customers.add_note("in-1", NoteKind.SUGGESTION, " Longer hours ", ("u1", "Ayşe"))
    assert (note.department, note.customer_id, note.text) == ("sales", record.id, "Longer hours")

    entries = await customers.history(record.id)
    assert [e.call_id for e in entries] == ["out-2", "in-1"]
    assert (entries[0].direction, entries[0].number) == ("outbound", "+4930123456")
    assert [r.duration_s for r in entries[1].recordings] == [4.0]
    assert [n.text for n in entries[1].notes] == ["Longer hours"]
    agent = Scope(agent_endpoint="PJSIP/1001", agent_only=True)
    assert [e.call_id for e in await customers.history(record.id, agent)] == ["in-1"]
    support = Scope(departments=("support",))
    assert [e.call_id for e in await customers.history(record.id, support)] == ["out-2"]


async def test_scope_limits_who_sees_a_customer(customers: CustomerStore, calls: CallStore) -> None:
    called = await customers.create(NewCustomer(["+905551112233"], name="Called"))
    fresh = await customers.create(NewCustomer(["+905557777777"], name="Called never"))
    await _call(calls, "in-1", 0, caller="+905551112233")
    mine = Scope(agent_endpoint="PJSIP/1001", agent_only=True)
    other_agent = Scope(agent_endpoint="PJSIP/9999", agent_only=True)
    assert [c.id for c in await customers.search("called", mine)] == [called.id]
    assert await customers.search("called", other_agent) == []
    # Supervisors see customers of their departments and those nobody has called yet.
    support = await customers.search("called", Scope(departments=("support",)))
    assert [c.id for c in support] == [fresh.id]


async def test_notes_by_kind_period_and_department(
    customers: CustomerStore, calls: CallStore, clock: FakeClock
) -> None:
    from zentrale.customers import store

    await _call(calls, "in-1", 0, caller="+905551112233")
    await _call(calls, "in-2", 5, caller="+905551112234", department="support")
    await customers.add_note("in-1", NoteKind.SUGGESTION, "idea one", (None, "a"))
    clock.advance(3600)
    await customers.add_note("in-2", NoteKind.SUGGESTION, "idea two", (None, "b"))
    await customers.add_note("in-2", NoteKind.DISPOSITION, "resolved", (None, "b"))
    with pytest.raises(InvalidCustomerError):
        await customers.add_note("in-2", NoteKind.NOTE, "   ", (None, "b"))
    async with customers._db.read() as session:
        found = await store.notes(session, NoteKind.SUGGESTION)
        late = await store.notes(session, NoteKind.SUGGESTION, since=START + dt.timedelta(hours=1))
        sales = await store.notes(session, departments=("sales",))
    assert [n.text for n in found] == ["idea two", "idea one"]
    assert [n.text for n in late] == ["idea two"]
    assert [n.text for n in sales] == ["idea one"]


async def test_lookup_gives_routing_facts_or_nothing(
    customers: CustomerStore, db: Database
) -> None:
    await customers.create(
        NewCustomer(["+905551112233"], language="en", vip=True, customer_number="K-9")
    )
    lookup = CustomerLookup(db)
    assert await lookup("+905551112233") == {
        "vip": "true",
        "language": "en",
        "customer_number": "K-9",
    }
    assert await lookup("+905550000000") == {}
    assert await lookup("") == {}
    assert await lookup("anonymous") == {}


async def test_lookup_on_a_broken_database_is_an_unknown_caller(tmp_path: Path) -> None:
    # A database without the customer tables: every query fails.
    broken = Database.open(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        assert await CustomerLookup(broken)("+905551112233") == {}
    finally:
        await broken.close()


@pytest.mark.postgres
async def test_a_slow_lookup_is_an_unknown_caller(tmp_path: Path) -> None:
    from zentrale.migrations import upgrade_engine

    with fresh_database("postgresql", tmp_path) as url:
        db = Database.open(url)
        try:
            await upgrade_engine(db.engine)
            await CustomerStore(db).create(NewCustomer(["+905551112233"], vip=True))
            async with db.write() as locker:
                # Like a migration holding the table: readers wait behind the lock.
                await locker.execute(text("LOCK TABLE customer_numbers IN ACCESS EXCLUSIVE MODE"))
                found = await CustomerLookup(db, time_limit=0.2)("+905551112233")
            assert found == {}
            assert await CustomerLookup(db)("+905551112233") == {"vip": "true"}
        finally:
            await db.close()


async def test_two_agents_adding_the_same_number_at_once(customers: CustomerStore) -> None:
    import asyncio

    first = await customers.create(NewCustomer(["+905551110001"]))
    second = await customers.create(NewCustomer(["+905551110002"]))
    results = await asyncio.gather(
        customers.update(first.id, Changes(add_numbers=["+905559990000"])),
        customers.update(second.id, Changes(add_numbers=["+905559990000"])),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["CustomerRecord", "NumberTakenError"]
    owner = await customers.by_number("+905559990000")
    assert owner is not None
    assert owner.id in (first.id, second.id)


async def test_email_is_normalised_checked_found_and_emptied(customers: CustomerStore) -> None:
    record = await customers.create(
        NewCustomer(["+905551112233"], name="Ayşe", email=" Ayse.Demir@Example.COM ")
    )
    assert record.email == "Ayse.Demir@example.com"
    assert "email" not in record.missing  # optional: completed, never asked for
    assert [c.id for c in await customers.search("ayse.demir@EXAMPLE.com")] == [record.id]
    assert await customers.search("demir@example.com") == []  # a whole address, not a part
    with pytest.raises(
        InvalidCustomerError, match=r"email is not a valid e-mail address: .*@-sign"
    ):
        await customers.update(record.id, Changes(fields={"email": "ayse at example.com"}))
    assert (await customers.get(record.id)).email == "Ayse.Demir@example.com"
    changed = await customers.update(record.id, Changes(fields={"email": "müller@bücher.de"}))
    assert changed.email == "müller@bücher.de"
    assert (await customers.update(record.id, Changes(fields={"email": ""}))).email is None
