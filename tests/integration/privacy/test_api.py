"""The data-protection API: administrators only, audited, numbers kept out of URLs and logs."""

from __future__ import annotations

import io
import json
import wave
import zipfile

import httpx
import pytest
from sqlalchemy import select

from zentrale.core.models import AuditEntry
from zentrale.db.session import Database
from zentrale.recording.models import RecordingState
from zentrale.recording.store import RecordingStore

from .conftest import Maker, make_wav, rows_containing

NUMBER = "+905551112233"
ROUTES = [
    ("GET", "/api/holds", None),
    ("POST", "/api/holds", {"scope": "call", "value": "c1", "reason": "court case 7"}),
    ("POST", "/api/holds/release", {"id": "x", "reason": "case closed"}),
    ("POST", "/api/subjects/export", {"number": NUMBER, "reason": "request 2026/17"}),
    ("POST", "/api/subjects/erase", {"number": NUMBER, "reason": "request 2026/17"}),
]


def auth(tokens: dict[str, str], user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[user]}"}


async def audit_entries(db: Database) -> list[AuditEntry]:
    async with db.read() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


@pytest.mark.asyncio
async def test_only_administrators_may_use_the_data_protection_routes(
    client: httpx.AsyncClient, tokens: dict[str, str], maker: Maker, db: Database
) -> None:
    rid = await maker.recording(await maker.call("c1", caller=NUMBER))
    for method, path, body in ROUTES:
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
        for user in ("super", "qa", "agent"):
            response = await client.request(method, path, json=body, headers=auth(tokens, user))
            assert response.status_code == 403, (path, user)
    assert (await RecordingStore(db).get(rid)).state is RecordingState.STORED
    # Nothing was done; each refused attempt of a signed-in user is audited as denied.
    actions = [e.action for e in await audit_entries(db)]
    assert actions
    assert set(actions) == {"access.denied"}


@pytest.mark.asyncio
async def test_holds_export_and_erase_through_the_api_are_audited(
    client: httpx.AsyncClient, tokens: dict[str, str], maker: Maker, db: Database
) -> None:
    admin = auth(tokens, "admin")
    r1 = await maker.recording(await maker.call("c1", caller=NUMBER))
    r2 = await maker.recording(await maker.call("c2", caller=NUMBER), freq=550.0)

    # A QA search by the caller's number: the audit entry keeps it masked.
    found = await client.get("/api/recordings", params={"caller": NUMBER}, headers=admin)
    assert found.status_code == 200
    assert len(found.json()["items"]) == 2

    on_call = {"scope": "call", "value": "c2", "reason": "complaint 44"}
    added = await client.post("/api/holds", json=on_call, headers=admin)
    assert added.status_code == 201
    hold = added.json()
    on_number = {"scope": "number", "value": "+905559990000", "reason": "police request"}
    numbered = await client.post("/api/holds", json=on_number, headers=admin)
    assert numbered.json()["value"] == "+90555*****00"
    listed = await client.get("/api/holds", headers=admin)
    assert {h["id"] for h in listed.json()} == {hold["id"], numbered.json()["id"]}
    # A value or reason of blanks only passes the length checks but is refused, not a 500.
    blank = await client.post("/api/holds", json={**on_call, "value": "  "}, headers=admin)
    assert blank.status_code == 422
    assert blank.json()["error"]["code"] == "invalid-hold"
    assert "value" in blank.json()["error"]["message"]
    blank = await client.post("/api/holds", json={**on_call, "reason": "      "}, headers=admin)
    assert blank.status_code == 422
    assert "reason" in blank.json()["error"]["message"]

    no_reason = await client.post("/api/subjects/export", json={"number": NUMBER}, headers=admin)
    assert no_reason.status_code == 422
    exported = await client.post(
        "/api/subjects/export", json={"number": NUMBER, "reason": "request 2026/17"}, headers=admin
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    assert exported.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        index = json.loads(archive.read("index.json"))
        audio = {item["id"]: archive.read(item["audio"]) for item in index["recordings"]}
    assert audio == {r1: make_wav(1.0), r2: make_wav(1.0, 550.0)}
    with wave.open(io.BytesIO(audio[r1])) as decoded:
        assert decoded.getframerate() == 8000

    erased = await client.post(
        "/api/subjects/erase", json={"number": NUMBER, "reason": "request 2026/17"}, headers=admin
    )
    assert erased.status_code == 200
    receipt = erased.json()
    assert ("recording", r1) in {(i["type"], i["id"]) for i in receipt["removed"]}
    assert {(i["type"], i["id"]) for i in receipt["kept"]} == {("call", "c2"), ("recording", r2)}
    assert [i["holds"][0]["id"] for i in receipt["kept"]] == [hold["id"], hold["id"]]
    assert (await RecordingStore(db).get(r1)).state is RecordingState.DELETED

    released = await client.post(
        "/api/holds/release", json={"id": hold["id"], "reason": "complaint closed"}, headers=admin
    )
    assert released.json()["released_at"] is not None
    again = await client.post(
        "/api/holds/release", json={"id": hold["id"], "reason": "complaint closed"}, headers=admin
    )
    assert again.status_code == 404

    entries = await audit_entries(db)
    assert [e.action for e in entries] == [
        "recording.search",
        "hold.add",
        "hold.add",
        "hold.list",
        "subject.export",
        "subject.erase",
        "hold.release",
        "access.denied",  # the second release: a 404 on a record, audited
    ]
    assert entries[0].detail["filters"]["caller"] == "+90555*****33"
    assert all(e.actor_name == "admin" for e in entries)
    assert entries[-3].reason == "request 2026/17"
    # The audit log holds no readable number; only the held call c2 still does.
    hits = {(table, row.get("id")) for table, row in await rows_containing(db, NUMBER)}
    assert hits == {("calls", "c2")}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/subjects/export", "/api/subjects/erase"])
async def test_an_unknown_customer_number_is_a_clear_404_not_a_server_error(
    client: httpx.AsyncClient, tokens: dict[str, str], path: str
) -> None:
    response = await client.post(
        path, json={"customer": "K-404", "reason": "request 2026/18"}, headers=auth(tokens, "admin")
    )
    assert response.status_code == 404
    assert "no customer has this customer number" in response.text
