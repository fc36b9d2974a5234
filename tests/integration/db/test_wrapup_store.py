"""Wrap-ups, callbacks and the suggestions report on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zentrale.calls.models import Call
from zentrale.calls.store import CallStore, CallUpdate
from zentrale.customers import wrapup
from zentrale.customers.errors import CallbackNotFoundError, WrapUpDoneError
from zentrale.customers.models import CallbackState, CallWrapUp, NoteKind
from zentrale.db.session import Database
from zentrale.stats.report import compute
from zentrale.stats.spec import Group, ReportSpec
from zentrale.stats.suggestions import suggestions
from zentrale.testing.clocks import START

from .conftest import inbound

pytestmark = pytest.mark.asyncio
AGENT = ("user-1", "Ayla")
NODE_A, NODE_B = "node1:host:101:aaaaaa", "node2:host:202:bbbbbb"
LEASE = dt.timedelta(seconds=60)


async def _taken(
    db: Database, calls: CallStore, call_id: str, department: str = "sales", days: int = 0
) -> Call:
    await calls.create(inbound(call_id, at=START + dt.timedelta(days=days)))
    await calls.update(call_id, CallUpdate(department=department, agent_endpoint="PJSIP/8101"))
    async with db.read() as session:
        call = await session.get(Call, call_id)
    assert call is not None
    return call


async def test_a_wrap_up_is_written_once_with_its_notes_and_callback(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")
    at = START + dt.timedelta(hours=2)
    wrap = wrapup.WrapUp(
        disposition="sale", notes="wants the blue one", suggestion="open on Sundays", callback_at=at
    )
    async with db.write() as session:
        await wrapup.save(session, call, wrap, AGENT, START)
    async with db.write() as session:
        with pytest.raises(WrapUpDoneError):
            await wrapup.save(session, call, wrap, AGENT, START)
    async with db.read() as session:
        (record,) = await wrapup.of_call(session, "call-1")
        assert await wrapup.of_call(session, "call-2") == []
    assert (record.wrapup.disposition, record.wrapup.agent_endpoint) == ("sale", "PJSIP/8101")
    kinds = {note.kind: note.text for note in record.notes}
    assert kinds == {
        NoteKind.DISPOSITION: "sale",
        NoteKind.NOTE: "wants the blue one",
        NoteKind.SUGGESTION: "open on Sundays",
    }
    (callback,) = record.callbacks
    assert (callback.number, callback.state, callback.due_at) == (
        "+905551112233",
        CallbackState.SCHEDULED,
        at,
    )


async def _save_not_seeing_the_other(db: Database, call: Call) -> None:
    """Save CALL's wrap-up as if the check ran before another agent's wrap-up committed."""
    async with db.write() as session:
        original = session.get

        async def not_yet(entity: object, key: object) -> object:
            return None if entity is CallWrapUp else await original(entity, key)  # type: ignore[arg-type]

        session.get = not_yet  # type: ignore[method-assign,assignment]
        await wrapup.save(session, call, wrapup.WrapUp(disposition="none"), AGENT, START)


async def test_one_agent_saving_twice_at_once_the_second_gets_wrapup_done_not_a_crash(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")
    async with db.write() as session:
        await wrapup.save(session, call, wrapup.WrapUp(disposition="sale"), AGENT, START)
    with pytest.raises(WrapUpDoneError):  # out of the transaction, which is rolled back
        await _save_not_seeing_the_other(db, call)


async def test_each_agent_of_a_transferred_call_files_their_own_wrap_up(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")  # Ayla (PJSIP/8101) handed it to Emre in support
    await calls.update("call-1", CallUpdate(department="support", agent_endpoint="PJSIP/8102"))
    ayla, emre = wrapup.Taker("PJSIP/8101", "sales"), wrapup.Taker("PJSIP/8102", "support")
    later = START + dt.timedelta(minutes=5)
    async with db.write() as session:
        first = wrapup.WrapUp(disposition="passed_on", suggestion="a direct line to support")
        await wrapup.save(session, call, first, AGENT, START, ayla)
    async with db.write() as session:
        second = wrapup.WrapUp(disposition="solved", notes="reset the router", callback_at=later)
        await wrapup.save(session, call, second, ("user-2", "Emre"), START, emre)
    async with db.write() as session:
        with pytest.raises(WrapUpDoneError):
            await wrapup.save(session, call, wrapup.WrapUp(disposition="x"), AGENT, later, ayla)
    async with db.read() as session:
        records = await wrapup.of_call(session, "call-1")
    assert [
        (r.wrapup.agent_endpoint, r.wrapup.department, r.wrapup.disposition) for r in records
    ] == [
        ("PJSIP/8101", "sales", "passed_on"),
        ("PJSIP/8102", "support", "solved"),
    ]
    notes = [{(n.kind, n.text, n.department) for n in r.notes} for r in records]
    assert notes == [
        {
            (NoteKind.DISPOSITION, "passed_on", "sales"),
            (NoteKind.SUGGESTION, "a direct line to support", "sales"),
        },
        {
            (NoteKind.DISPOSITION, "solved", "support"),
            (NoteKind.NOTE, "reset the router", "support"),
        },
    ]
    assert [[c.agent_endpoint for c in r.callbacks] for r in records] == [[], ["PJSIP/8102"]]
    assert wrapup.of_agent(records, "PJSIP/8102") is records[1]
    assert wrapup.of_agent(records, "PJSIP/8103") is None


async def test_callbacks_come_due_are_claimed_once_and_settled(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")
    at = START + dt.timedelta(hours=1)
    async with db.write() as session:
        await wrapup.save(session, call, wrapup.WrapUp(callback_at=at), AGENT, START)
    async with db.read() as session:
        assert await wrapup.due(session, at - dt.timedelta(seconds=1)) == []
        (due,) = await wrapup.due(session, at)
        assert [c.id for c in await wrapup.callbacks_of(session, "PJSIP/8101")] == [due.id]
    async with db.write() as session:
        assert await wrapup.claim(session, due.id, at, owner=NODE_A, until=at + LEASE)
    async with db.write() as session:
        assert not await wrapup.claim(session, due.id, at, owner=NODE_B, until=at + LEASE)
    retry = at + dt.timedelta(minutes=15)
    async with db.write() as session:
        assert await wrapup.settle(
            session,
            due.id,
            owner=NODE_A,
            result="no_answer",
            placed_call_id="out-1",
            retry_at=retry,
            now=at,
        )
    async with db.read() as session:
        (again,) = await wrapup.due(session, retry)
    assert (again.attempts, again.result, again.placed_call_id) == (1, "no_answer", "out-1")
    async with db.write() as session:
        assert await wrapup.claim(session, due.id, retry, owner=NODE_A, until=retry + LEASE)
        assert await wrapup.settle(
            session,
            due.id,
            owner=NODE_A,
            result="answered",
            placed_call_id="out-2",
            retry_at=None,
            now=retry,
        )
    async with db.read() as session:
        assert await wrapup.due(session, retry + dt.timedelta(days=1)) == []
        assert await wrapup.callbacks_of(session, "PJSIP/8101") == []


async def test_a_callback_left_calling_by_a_stopped_daemon_is_scheduled_again_after_its_lease(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")
    at = START + dt.timedelta(hours=1)
    async with db.write() as session:
        record = await wrapup.save(session, call, wrapup.WrapUp(callback_at=at), AGENT, START)
    callback_id = record.callbacks[0].id
    async with db.write() as session:
        assert await wrapup.claim(session, callback_id, at, owner=NODE_A, until=at + LEASE)
    # node A renews its lease while it places the call; node B's look finds nothing to take
    later = at + dt.timedelta(seconds=50)
    async with db.write() as session:
        assert await wrapup.extend(session, NODE_A, [callback_id], later + LEASE) == 1
        assert await wrapup.extend(session, NODE_B, [callback_id], later + LEASE) == 0
        assert await wrapup.recover(session, later + LEASE, retries=2) == (0, 0)
        assert await wrapup.due(session, later + LEASE) == []
    # node A stops: nobody renews, and once the lease ran out node B puts it back and wins it
    expired = later + LEASE + dt.timedelta(seconds=1)
    async with db.write() as session:
        assert await wrapup.recover(session, expired, retries=2) == (1, 0)
    async with db.read() as session:
        (again,) = await wrapup.due(session, expired)
    assert (again.id, again.state, again.attempts, again.result, again.locked_by) == (
        callback_id,
        CallbackState.SCHEDULED,
        1,
        "interrupted",
        None,
    )
    async with db.write() as session:
        assert await wrapup.claim(
            session, callback_id, expired, owner=NODE_B, until=expired + LEASE
        )
    async with db.write() as session:
        assert not await wrapup.claim(
            session, callback_id, expired, owner=NODE_A, until=expired + LEASE
        )
        # node A, back late, can no longer write its attempt over node B's
        assert not await wrapup.settle(
            session,
            callback_id,
            owner=NODE_A,
            result="answered",
            placed_call_id="stale",
            retry_at=None,
            now=expired,
        )
        assert await wrapup.settle(
            session,
            callback_id,
            owner=NODE_B,
            result="answered",
            placed_call_id="out-2",
            retry_at=None,
            now=expired,
        )
    async with db.read() as session:
        (row,) = (await wrapup.of_call(session, "call-1"))[0].callbacks
    assert (row.state, row.attempts, row.placed_call_id, row.locked_by, row.locked_until) == (
        CallbackState.DONE,
        2,
        "out-2",
        None,
        None,
    )


async def test_a_callback_interrupted_on_its_last_attempt_fails(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")
    at = START + dt.timedelta(hours=1)
    async with db.write() as session:
        record = await wrapup.save(session, call, wrapup.WrapUp(callback_at=at), AGENT, START)
    callback_id = record.callbacks[0].id
    async with db.write() as session:
        assert await wrapup.claim(session, callback_id, at, owner=NODE_A, until=at + LEASE)
    async with db.write() as session:
        assert await wrapup.recover(session, at + 2 * LEASE, retries=0) == (0, 1)
    async with db.read() as session:
        assert await wrapup.due(session, at + 2 * LEASE) == []
        (row,) = (await wrapup.of_call(session, "call-1"))[0].callbacks
    assert (row.state, row.result, row.attempts) == (CallbackState.FAILED, "interrupted", 1)


async def test_only_the_agent_cancels_a_scheduled_callback(db: Database, calls: CallStore) -> None:
    call = await _taken(db, calls, "call-1")
    at = START + dt.timedelta(hours=1)
    async with db.write() as session:
        record = await wrapup.save(session, call, wrapup.WrapUp(callback_at=at), AGENT, START)
    callback_id = record.callbacks[0].id
    async with db.write() as session:
        with pytest.raises(CallbackNotFoundError):
            await wrapup.cancel(session, callback_id, "PJSIP/9999", START)
    async with db.write() as session:
        row = await wrapup.cancel(session, callback_id, "PJSIP/8101", START)
    assert row.state is CallbackState.CANCELLED
    async with db.read() as session:
        assert await wrapup.due(session, at) == []
    async with db.write() as session:
        with pytest.raises(CallbackNotFoundError):
            await wrapup.cancel(session, callback_id, "PJSIP/8101", START)


async def test_the_suggestions_report_filters_by_days_and_department(
    db: Database, calls: CallStore
) -> None:
    for n, (department, day) in enumerate([("sales", 0), ("support", 0), ("sales", 3)]):
        call = await _taken(db, calls, f"call-{n}", department, days=day)
        at = START + dt.timedelta(days=day, minutes=5)  # the report goes by the call's arrival
        async with db.write() as session:
            await wrapup.save(session, call, wrapup.WrapUp(suggestion=f"idea {n}"), AGENT, at)
    zone = ZoneInfo("Europe/Istanbul")
    first = START.astimezone(zone).date()

    def spec(days: int, departments: tuple[str, ...] | None = None) -> ReportSpec:
        last = first + dt.timedelta(days=days)
        return ReportSpec(
            group="department",
            period="day",
            first_day=first,
            last_day=last,
            zone=zone,
            departments=departments,
        )

    async with db.read() as session:
        assert sorted(s.text for s in await suggestions(session, spec(0))) == ["idea 0", "idea 1"]
        newest, *_ = await suggestions(session, spec(5))
        assert newest.text == "idea 2"
        sales = await suggestions(session, spec(5), "sales")
        assert [(s.text, s.agent, s.department) for s in sales] == [
            ("idea 2", "Ayla", "sales"),
            ("idea 0", "Ayla", "sales"),
        ]
        scoped = await suggestions(session, spec(5, ("support",)))
        assert [s.text for s in scoped] == ["idea 1"]
        assert await suggestions(session, spec(5, ("support",)), "sales") == []


async def test_each_wrap_up_of_a_transferred_call_counts_for_its_agent_and_department(
    db: Database, calls: CallStore
) -> None:
    call = await _taken(db, calls, "call-1")  # Ayla in sales hands it to Emre in support
    await calls.update("call-1", CallUpdate(department="support", agent_endpoint="PJSIP/8102"))
    at = START + dt.timedelta(minutes=5)
    for n, (by, author) in enumerate(
        [
            (wrapup.Taker("PJSIP/8101", "sales"), AGENT),
            (wrapup.Taker("PJSIP/8102", "support"), ("user-2", "Emre")),
        ]
    ):
        async with db.write() as session:
            wrap = wrapup.WrapUp(disposition="x", suggestion=f"idea {n}")
            await wrapup.save(session, call, wrap, author, at, by)
    day = START.astimezone(ZoneInfo("Europe/Istanbul")).date()

    async def counted(group: Group) -> dict[str, int]:
        spec = ReportSpec(
            group=group, period="day", first_day=day, last_day=day, zone=ZoneInfo("Europe/Istanbul")
        )
        async with db.read() as session:
            return {row.key: row.suggestions for row in await compute(session, spec)}

    assert await counted("agent") == {"PJSIP/8101": 1, "PJSIP/8102": 1}
    assert await counted("department") == {"sales": 1, "support": 1}
    async with db.read() as session:
        listed = await suggestions(
            session,
            ReportSpec(
                group="department",
                period="day",
                first_day=day,
                last_day=day,
                zone=ZoneInfo("Europe/Istanbul"),
            ),
        )
    assert sorted((s.text, s.agent, s.department) for s in listed) == [
        ("idea 0", "Ayla", "sales"),
        ("idea 1", "Emre", "support"),
    ]
