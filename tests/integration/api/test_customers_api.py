"""Customer records and notes through the API, per role, on SQLite and PostgreSQL.

The fixture world: call sales1 from +905551112233 answered by the agent (PJSIP/1001, sales),
support1 from +4930123456 answered in support; users per role (see conftest.py).
"""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from zentrale.core.models import AuditEntry
from zentrale.db.session import Database

from .conftest import World, sign_in

pytestmark = pytest.mark.asyncio

SALES_CALLER, SUPPORT_CALLER = "+905551112233", "+4930123456"


async def _create(
    client: httpx.AsyncClient, world: World, user: str, **body: object
) -> httpx.Response:
    return await client.post("/api/customers", json=body, headers=world.auth(user))


async def _audit(db: Database) -> list[AuditEntry]:
    async with db.read() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


async def test_an_agent_creates_and_completes_a_customer_of_their_call(
    client: httpx.AsyncClient, world: World
) -> None:
    found = await client.get(
        "/api/customers", params={"number": SALES_CALLER}, headers=world.auth("agent")
    )
    assert found.json() == []
    created = await _create(client, world, "agent", numbers=["+90 555 111 22 33"])
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["numbers"] == [SALES_CALLER]
    assert record["missing"] == ["name", "customer_number", "language"]
    url = f"/api/customers/{record['id']}"
    done = await client.patch(
        url, json={"name": "Ayşe Demir", "language": "tr"}, headers=world.auth("agent")
    )
    assert done.status_code == 200, done.text
    assert (done.json()["name"], done.json()["missing"]) == ("Ayşe Demir", ["customer_number"])
    # Filled fields and the VIP flag are for supervisors.
    for change in ({"name": "Someone Else"}, {"vip": True}, {"remove_numbers": [SALES_CALLER]}):
        refused = await client.patch(url, json=change, headers=world.auth("agent"))
        assert refused.status_code == 403, change
    changed = await client.patch(
        url, json={"name": "Ayşe Kaya", "vip": True}, headers=world.auth("super")
    )
    assert (changed.json()["name"], changed.json()["vip"]) == ("Ayşe Kaya", True)
    by_number = await client.get(
        "/api/customers", params={"number": "0090555 1112233"}, headers=world.auth("agent")
    )
    assert [c["id"] for c in by_number.json()] == [record["id"]]


async def test_agents_create_customers_only_for_their_calls_and_never_vip(
    client: httpx.AsyncClient, world: World
) -> None:
    other = await _create(client, world, "agent", numbers=[SUPPORT_CALLER])
    assert other.status_code == 403
    assert SUPPORT_CALLER not in other.text  # the refusal masks the number
    vip = await _create(client, world, "agent", numbers=[SALES_CALLER], vip=True)
    assert vip.status_code == 403
    assert (await _create(client, world, "qa", numbers=[SALES_CALLER])).status_code == 403


async def test_one_customer_per_number_and_clear_errors(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (await _create(client, world, "admin", numbers=[SALES_CALLER])).status_code == 201
    taken = await _create(client, world, "admin", numbers=["+90 555 111 22 33"])
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "number-taken"
    national = await _create(client, world, "admin", numbers=["0555 111 22 33"])
    assert national.status_code == 422
    assert national.json()["error"]["code"] == "invalid-number"
    assert "international" in national.json()["error"]["message"]


async def test_scopes_hide_other_departments_customers(
    client: httpx.AsyncClient, world: World
) -> None:
    support = (await _create(client, world, "admin", numbers=[SUPPORT_CALLER], name="Lena")).json()
    sales = (await _create(client, world, "admin", numbers=[SALES_CALLER], name="Leyla")).json()
    for user in ("agent", "super"):  # both work in sales only
        hidden = await client.get(f"/api/customers/{support['id']}", headers=world.auth(user))
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "customer-not-found"
        found = await client.get("/api/customers", params={"q": "le"}, headers=world.auth(user))
        assert [c["id"] for c in found.json()] == [sales["id"]]
    everyone = await client.get("/api/customers", params={"q": "le"}, headers=world.auth("admin"))
    assert len(everyone.json()) == 2


async def test_history_shows_the_calls_with_recordings_and_notes(
    client: httpx.AsyncClient, world: World
) -> None:
    record = (await _create(client, world, "admin", numbers=[SALES_CALLER])).json()
    note = await client.post(
        "/api/calls/sales1/notes",
        headers=world.auth("agent"),
        json={"kind": "disposition", "text": "resolved"},
    )
    assert note.status_code == 201, note.text
    history = await client.get(f"/api/customers/{record['id']}/calls", headers=world.auth("agent"))
    (call,) = history.json()
    assert (call["call_id"], call["department"], call["agent_endpoint"]) == (
        "sales1",
        "sales",
        "PJSIP/1001",
    )
    assert [r["id"] for r in call["recordings"]] == [world.recordings["sales1"]]
    assert [(n["kind"], n["text"]) for n in call["notes"]] == [("disposition", "resolved")]


async def test_notes_only_on_own_calls_and_suggestions_for_supervisors(
    client: httpx.AsyncClient, world: World
) -> None:
    body = {"kind": "suggestion", "text": "Open on Saturdays"}
    mine = await client.post("/api/calls/sales1/notes", json=body, headers=world.auth("agent"))
    assert mine.status_code == 201
    assert (mine.json()["department"], mine.json()["author_name"]) == ("sales", "Agent")
    theirs = await client.post("/api/calls/support1/notes", json=body, headers=world.auth("agent"))
    assert theirs.status_code == 404
    listed = await client.get(
        "/api/notes", params={"kind": "suggestion"}, headers=world.auth("super")
    )
    assert [n["text"] for n in listed.json()] == ["Open on Saturdays"]
    later = await client.get(
        "/api/notes",
        params={"kind": "suggestion", "from": "2026-03-03"},
        headers=world.auth("admin"),
    )
    assert later.json() == []
    assert (await client.get("/api/notes", headers=world.auth("agent"))).status_code == 403


async def test_every_read_and_change_is_audited_with_numbers_masked(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    record = (await _create(client, world, "admin", numbers=[SALES_CALLER])).json()
    auth = world.auth("super")
    await client.get("/api/customers", params={"number": SALES_CALLER}, headers=auth)
    await client.get(f"/api/customers/{record['id']}", headers=auth)
    await client.get(f"/api/customers/{record['id']}/calls", headers=auth)
    await client.patch(
        f"/api/customers/{record['id']}", json={"add_numbers": ["+905550001122"]}, headers=auth
    )
    entries = [e for e in await _audit(db) if e.action.startswith("customer.")]
    assert [e.action for e in entries] == [
        "customer.create",
        "customer.search",
        "customer.view",
        "customer.history",
        "customer.update",
    ]
    text = json.dumps([e.detail for e in entries])
    assert SALES_CALLER not in text
    assert "+90555*****33" in text
    assert "+905550001122" not in text
    assert entries[-1].detail["fields"] == ["numbers"]


async def test_a_cookie_session_needs_the_csrf_token(
    client: httpx.AsyncClient, world: World
) -> None:
    record = (await _create(client, world, "admin", numbers=[SALES_CALLER])).json()
    csrf = await sign_in(client, "super")
    url = f"/api/customers/{record['id']}"
    refused = await client.patch(url, json={"name": "X"})
    assert refused.json()["error"]["code"] == "csrf-failed"
    accepted = await client.patch(url, json={"name": "X"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200


async def test_email_is_checked_completed_once_by_agents_and_never_audited(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    bad = await _create(client, world, "admin", numbers=[SALES_CALLER], email="ayse@")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid-customer"
    assert bad.json()["error"]["message"].startswith("email is not a valid e-mail address: ")
    record = (await _create(client, world, "agent", numbers=[SALES_CALLER])).json()
    assert (record["email"], record["missing"]) == (None, ["name", "customer_number", "language"])
    url, agent = f"/api/customers/{record['id']}", world.auth("agent")
    done = await client.patch(url, json={"email": "Ayse.Demir@Example.COM"}, headers=agent)
    assert done.json()["email"] == "Ayse.Demir@example.com"
    refused = await client.patch(url, json={"email": "other@example.com"}, headers=agent)
    assert refused.status_code == 403  # filled in: a supervisor's to change
    changed = await client.patch(url, json={"email": None}, headers=world.auth("super"))
    assert changed.json()["email"] is None
    await client.patch(url, json={"email": "ayse@example.org"}, headers=world.auth("super"))
    found = await client.get("/api/customers", params={"q": "AYSE@example.org"}, headers=agent)
    assert [c["id"] for c in found.json()] == [record["id"]]
    entries = [e for e in await _audit(db) if e.action.startswith("customer.")]
    updates = [e.detail["fields"] for e in entries if e.action == "customer.update"]
    assert updates == [["email"], ["email"], ["email"]]  # the refused one is an access.denied
    assert entries[-1].detail["q"] == "A***@***.org"
    assert "example" not in json.dumps([e.detail for e in entries]).lower()
