"""The audit log: every search, listen, download and change is entered; the chain detects
edits and removals; the database refuses UPDATE and DELETE; `zentrale audit verify`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from zentrale.api.deps import Deps
from zentrale.cli.users import audit as audit_group
from zentrale.core import anchor, audit
from zentrale.core.models import AuditEntry
from zentrale.recording.storage.memory import MemoryStore

from .conftest import World, sign_in

pytestmark = pytest.mark.asyncio


async def _actions(client: httpx.AsyncClient, world: World) -> list[tuple[str, str]]:
    body = (
        await client.get("/api/audit", params={"limit": 500}, headers=world.auth("admin"))
    ).json()
    return [(item["actor_name"], item["action"]) for item in reversed(body["items"])]


async def test_searches_listens_downloads_and_changes_are_entered(
    client: httpx.AsyncClient, world: World
) -> None:
    auth, rid = world.auth("qa"), world.recordings["sales1"]
    await client.get("/api/recordings", headers=auth)
    await client.get(f"/api/recordings/{rid}/audio", headers={"Range": "bytes=0-9", **auth})
    await client.get(
        f"/api/recordings/{rid}/download", params={"reason": "dispute 17"}, headers=auth
    )
    await client.put(f"/api/recordings/{rid}/tags/x", headers=auth)
    await client.post(
        f"/api/recordings/{rid}/comments", json={"offset_s": 1, "text": "t"}, headers=auth
    )
    assert await _actions(client, world) == [
        ("qa", "recording.search"),
        ("qa", "recording.listen"),
        ("qa", "recording.download"),
        ("qa", "tag.add"),
        ("qa", "comment.create"),
    ]
    entry = (
        await client.get(
            "/api/audit", params={"action": "recording.listen"}, headers=world.auth("admin")
        )
    ).json()["items"][0]
    assert entry["address"] == "10.0.0.7"
    assert entry["target"] == f"recording:{rid}"
    assert entry["detail"] == {"bytes": [0, 10]}


async def test_sign_ins_and_failures_are_entered(client: httpx.AsyncClient, world: World) -> None:
    await client.post("/api/auth/login", json={"username": "qa", "password": "wrong"})
    await sign_in(client, "qa")
    actions = await _actions(client, world)
    assert actions == [("qa", "auth.login_failed"), ("qa", "auth.login")]


async def _tamper(deps: Deps, sql: str) -> None:
    async with deps.db.engine.begin() as connection:
        if deps.db.dialect == "postgresql":
            await connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await connection.execute(text(sql))
            await connection.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")
        else:
            await connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            await connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
            await connection.execute(text(sql))


async def _three_entries(client: httpx.AsyncClient, world: World) -> None:
    for _ in range(3):
        await client.get("/api/recordings", headers=world.auth("qa"))


async def test_an_intact_chain_verifies(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    await _three_entries(client, world)
    report = await audit.verify(deps.db)
    assert report.ok
    assert report.entries == 3


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "UPDATE audit_log SET actor_name = 'x' WHERE seq = 2",
            "entry 2: its contents were changed",
        ),
        ("DELETE FROM audit_log WHERE seq = 2", "entries 2..2 are missing"),
        ("UPDATE audit_log SET reason = 'x' WHERE seq = 1", "entry 1: its contents were changed"),
    ],
)
async def test_an_edited_or_removed_entry_breaks_the_chain(
    client: httpx.AsyncClient, world: World, deps: Deps, sql: str, problem: str
) -> None:
    await _three_entries(client, world)
    await _tamper(deps, sql)
    report = await audit.verify(deps.db)
    assert not report.ok
    assert problem in report.problems


async def test_a_rehashed_edit_still_breaks_the_link_to_the_next_entry(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    await _three_entries(client, world)
    await _tamper(deps, f"UPDATE audit_log SET hash = '{'e' * 64}' WHERE seq = 2")
    report = await audit.verify(deps.db)
    assert "entry 3: does not follow the entry before it" in report.problems


async def test_the_database_refuses_updates_and_deletes(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    await _three_entries(client, world)
    for sql in ("UPDATE audit_log SET actor_name = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with deps.db.engine.begin() as connection:
                await connection.execute(text(sql))
    assert (await audit.verify(deps.db)).entries == 3


async def test_the_cli_verifies_and_exits_1_when_broken(
    client: httpx.AsyncClient, world: World, deps: Deps, database_url: str, tmp_path: Path
) -> None:
    import asyncio

    await _three_entries(client, world)
    env = {
        "ZENTRALE_DATABASE__URL": database_url,
        "ZENTRALE_STATE_DIR": str(tmp_path),
        "ZENTRALE_STORAGE__PATH": str(tmp_path / "store"),
    }
    good = await asyncio.to_thread(CliRunner().invoke, audit_group, ["verify"], env=env)
    assert good.exit_code == 0, good.output
    assert "3 entries" in good.output
    await _tamper(deps, "DELETE FROM audit_log WHERE seq = 1")
    bad = await asyncio.to_thread(CliRunner().invoke, audit_group, ["verify"], env=env)
    assert bad.exit_code == 1
    assert "BROKEN: entries 1..1 are missing" in bad.output


async def _rehash_last(deps: Deps) -> None:
    """Rewrite the last entry and recompute its hash, as someone with the database could."""
    async with deps.db.read() as session:
        last = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()))).first()
    assert last is not None
    last.actor_name = "someone else"
    new_hash = audit.entry_hash(last.prev_hash, audit._fields(last))
    await _tamper(
        deps,
        f"UPDATE audit_log SET actor_name = 'someone else', hash = '{new_hash}' "
        f"WHERE seq = {last.seq}",
    )


@pytest.mark.parametrize(
    ("damage", "problem"),
    [("cut", "entries were cut off the end"), ("rewrite", "the chain was rewritten")],
)
async def test_signed_checkpoints_find_a_cut_or_rewritten_chain(
    client: httpx.AsyncClient, world: World, deps: Deps, damage: str, problem: str
) -> None:
    await _three_entries(client, world)
    key, store = b"anchor key", MemoryStore()
    point = await anchor.checkpoint(deps.db, store, key, deps.clock())
    assert point is not None
    assert (await anchor.verify_anchored(deps.db, store, key)).ok
    if damage == "cut":
        await _tamper(deps, f"DELETE FROM audit_log WHERE seq = {point.seq}")
    else:
        await _rehash_last(deps)
    assert (await audit.verify(deps.db)).ok  # the chain alone cannot tell
    report = await anchor.verify_anchored(deps.db, store, key)
    assert any(problem in found for found in report.problems), report.problems
    forged = await anchor.verify_anchored(deps.db, store, b"another key")
    assert any("not a checkpoint signed with this key" in p for p in forged.problems)


async def test_the_cli_writes_checkpoints_and_verifies_against_them(
    client: httpx.AsyncClient, world: World, deps: Deps, database_url: str, tmp_path: Path
) -> None:
    import asyncio

    await _three_entries(client, world)
    env = {
        "ZENTRALE_DATABASE__URL": database_url,
        "ZENTRALE_STATE_DIR": str(tmp_path),
        "ZENTRALE_STORAGE__PATH": str(tmp_path / "store"),
    }
    run = CliRunner().invoke
    written = await asyncio.to_thread(run, audit_group, ["checkpoint"], env=env)
    assert written.exit_code == 0, written.output
    await _tamper(deps, "DELETE FROM audit_log WHERE seq >= 2")
    bad = await asyncio.to_thread(run, audit_group, ["verify"], env=env)
    assert bad.exit_code == 1, bad.output
    assert "cut off the end" in bad.output
