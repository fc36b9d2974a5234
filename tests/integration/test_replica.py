"""An API replica (`zentrale api serve`, no telephony) beside a daemon, on one PostgreSQL.

The replica joins the live bus: an agent whose phone the daemon rings signs in through the
replica, opens the workspace there and gets the screen pop of a call the daemon's Asterisk
carries (a Local channel caller), wraps the call up and sets a pause through the replica
(carried out and audited by the daemon, whose queues then see the agent paused), and a
supervisor on the replica sees the agent with their node, on the supervisors' page and on the
wallboard. While the call rings, the replica serves the agent the department's script and
articles. What needs a node's own calls is
refused 409 `no-telephony`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.db.session import Database
from zentrale.ops.process import DaemonProcess, DaemonSpec
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.testing.databases import fresh_database

from .test_service import RULES

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres, pytest.mark.asyncio]

SAM = "Local/S1@sim-agent/n"
PASSWORD = "a long password 1"
AGENTS = {"sip_password": "softphones 1", "sip_domain": "sip.test"}
SCRIPT = "---\ntitle: Sales\ndepartments: [sales]\n---\nGood day, {agent.name} speaking.\n"
PRICES = "---\ntitle: Sales prices\ndepartments: [sales]\n---\nBasic: 19.90\n"


@dataclass
class Pair:
    """A daemon (node-a, with the sandbox Asterisk) and an API replica (node-r)."""

    asterisk: SandboxInstance
    daemon: DaemonProcess
    replica: DaemonProcess
    db: Database

    @property
    def daemon_url(self) -> str:
        assert self.daemon.url is not None
        return self.daemon.url

    @property
    def replica_url(self) -> str:
        assert self.replica.url is not None
        return self.replica.url

    @property
    def replica_node(self) -> str:
        """The replica's name on the bus: its settings' node with its port."""
        return f"node-r/api-{self.replica_url.rsplit(':', 1)[1]}"


@pytest_asyncio.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    root = await asyncio.to_thread(ensure_root)
    star = SandboxInstance(root, name=f"replica-{os.getpid()}", app="zentrale_a")
    shared = secrets.token_urlsafe(32)  # api.session_secret: sessions and the bus's signatures
    processes: list[DaemonProcess] = []
    knowledge = tmp_path / "knowledge"  # one host: the daemon and the replica share the files
    for relative, text in {"scripts/sales.md": SCRIPT, "articles/prices.md": PRICES}.items():
        (knowledge / relative).parent.mkdir(parents=True, exist_ok=True)
        (knowledge / relative).write_text(text)
    with fresh_database("postgresql", tmp_path, "zentrale_replica") as url:
        try:
            await asyncio.to_thread(star.start)
            for name, replica in (("a", False), ("r", True)):
                spec = DaemonSpec(
                    tmp_path / name,
                    star.ari,
                    RULES.replace("recording: true", "recording: false"),
                    node=f"node-{name}",
                    database_url=url,
                    session_secret=shared,
                    replica=replica,
                    sections={
                        "agents": {**AGENTS, "websocket_url": f"ws://{name}.test/ws"},
                        "api": {"cookie_secure": False},
                        "knowledge": {
                            "dir": str(knowledge),
                            "history_dir": str(tmp_path / name / "kb"),
                        },
                    },
                )
                process = DaemonProcess(spec)
                processes.append(process)
                process.start()
                await asyncio.to_thread(process.wait_ready)  # the daemon migrates first
            async with Database.open(url) as db:
                yield Pair(star, processes[0], processes[1], db)
        finally:
            for process in processes:
                process.stop(30)
            await asyncio.to_thread(star.stop)
            await asyncio.to_thread(star.remove)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


async def _user(db: Database, role: Role, phone: str | None = None) -> None:
    new = NewUser(
        username=str(role),
        display_name=str(role).title(),
        password=PASSWORD,
        role=role,
        departments=("sales",),
        agent_endpoint=phone,
    )
    await UserStore(db).add(new)


async def _signed_in(url: str, username: str) -> httpx.AsyncClient:
    """Return a client signed in at URL with a session cookie (and its CSRF header)."""
    client = httpx.AsyncClient(base_url=url, timeout=30)
    reply = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    client.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return client


async def _follow(client: httpx.AsyncClient, path: str, seen: list[dict[str, object]]) -> None:
    """Append every event of the stream at PATH to SEEN, with its name (reconnecting)."""
    while True:
        async with client.stream("GET", path, timeout=90) as reply:
            reply.raise_for_status()
            name = "message"
            async for line in reply.aiter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    seen.append({**(json.loads(line[6:]) or {}), "event": name})
                    name = "message"


async def test_an_agent_and_a_supervisor_work_through_the_api_replica(pair: Pair) -> None:
    await _user(pair.db, Role.AGENT, SAM)
    await _user(pair.db, Role.SUPERVISOR, "Local/S9@sim-agent/n")
    agent = await _signed_in(pair.replica_url, "agent")
    boss = await _signed_in(pair.replica_url, "supervisor")
    on_daemon = await _signed_in(pair.daemon_url, "supervisor")
    seen: list[dict[str, object]] = []
    follower: asyncio.Task[None] | None = None
    try:

        async def both_hear_each_other() -> bool:
            listed = (await boss.get("/api/agents")).json()
            nodes = (await on_daemon.get("/api/supervise")).json()["nodes"]
            sam = [row for row in listed if row["endpoint"] == SAM]
            return sam == [
                {"endpoint": SAM, "name": "Sam", "state": "idle", "node": "node-a"}
            ] and pair.replica_node in [n["node"] for n in nodes]

        assert await _until(both_hear_each_other, 20)

        page = await agent.get("/agent")
        assert page.status_code == 200, page.text
        assert "ws://a.test/ws" in page.headers["content-security-policy"]  # the daemon's phone
        softphone = await agent.get("/api/agent/softphone")
        assert softphone.status_code == 200, softphone.text
        assert softphone.headers["x-zentrale-node"] == "node-a"
        assert softphone.json()["websocket_url"] == "ws://a.test/ws"

        follower = asyncio.create_task(_follow(agent, "/api/agent/events", seen))

        async def streaming() -> bool:
            return any(e["event"] == "state" for e in seen)

        assert await _until(streaming, 10)
        creds = pair.asterisk.ari
        script = PartyScript(answer_after=1.0, talk=2, then="hangup")
        await script_party(creds, "agent", "S1", script)
        await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.3, then="wait"))

        async def popped() -> bool:
            return any(e["event"] == "ringing" for e in seen)

        assert await _until(popped, 20), seen
        pop = next(e for e in seen if e["event"] == "ringing")
        assert pop["department"] == "sales"
        assert len(str(pop["call_id"])) == 32
        # While it rings (the pop came from the daemon over the bus): the department's script
        # and its articles, served by the replica.
        script = await agent.get(f"/api/agent/calls/{pop['call_id']}/script")
        assert script.status_code == 200, script.text
        assert script.json()["html"] == (
            '<p>Good day, <span class="filled" data-field="agent">Agent</span> speaking.</p>\n'
        )
        found = await agent.get("/api/knowledge/articles", params={"q": "prices"})
        assert [hit["title"] for hit in found.json()] == ["Sales prices"]

        async def on_the_wallboard() -> bool:
            board = (await boss.get("/api/wallboard")).json()
            sam = [row for row in board["agents"] if row["endpoint"] == SAM]
            return [row["state"] for row in sam] in (["ringing"], ["on_call"])

        assert await _until(on_the_wallboard, 10)  # the daemon's agent, on the replica's board

        async def on_call_then_done() -> bool:
            states = [e["state"] for e in seen if e["event"] == "state"]
            return "on_call" in states and states[-1] in ("after_call_work", "available")

        assert await _until(on_call_then_done, 20), seen

        call_id = str(pop["call_id"])
        wrap = {"notes": "wanted a brochure", "ready": False}
        saved = await agent.put(f"/api/calls/{call_id}/wrapup", json=wrap)
        assert saved.status_code == 200, saved.text
        assert saved.headers["x-zentrale-node"] == "node-a"
        shown = await agent.get(f"/api/calls/{call_id}/wrapup")  # the shared database
        assert shown.status_code == 200, shown.text
        assert (shown.json()["agent_endpoint"], shown.json()["notes"]) == (
            SAM,
            ["wanted a brochure"],
        )

        paused = await agent.post("/api/agent/state", json={"state": "paused", "reason": "break"})
        assert paused.status_code == 200, paused.text
        assert paused.headers["x-zentrale-node"] == "node-a"
        assert (paused.json()["state"], paused.json()["reason"]) == ("paused", "break")

        state = await agent.get("/api/agent/state")
        assert (state.json()["state"], state.headers["x-zentrale-node"]) == ("paused", "node-a")
        # The daemon honours it: its board (the queues' view) has Sam paused.
        own = [r for r in (await on_daemon.get("/api/agents")).json() if r["endpoint"] == SAM]
        assert own == [{"endpoint": SAM, "name": "Sam", "state": "paused", "node": "node-a"}]
        async with pair.db.read() as session:
            entries = list(
                await session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.paused"))
            )
        assert [(e.actor_name, e.target) for e in entries] == [("agent", f"agent:{SAM}")]

        async def supervisor_sees_pause() -> bool:
            board = (await boss.get("/api/supervise")).json()
            rows = [r for r in board["agents"] if r["endpoint"] == SAM]
            return [(r["node"], r["state"], r["reason"]) for r in rows] == [
                ("node-a", "paused", "break")
            ]

        assert await _until(supervisor_sees_pause, 10)
        board = (await boss.get("/api/supervise")).json()
        assert [n["node"] for n in board["nodes"]] == [pair.replica_node, "node-a"]
        assert [q["department"] for q in board["queues"]] == ["sales"]
        page = await boss.get("/supervise")
        assert page.status_code == 200
        assert "Sam" in page.text

        async def paused_on_stream() -> bool:
            return [e["state"] for e in seen if e["event"] == "state"][-1] == "paused"

        assert await _until(paused_on_stream, 10), seen[-3:]

        board = (await boss.get("/api/wallboard")).json()
        assert [(r["state"], r["reason"]) for r in board["agents"] if r["endpoint"] == SAM] == [
            ("paused", "break")
        ]
        assert board["departments"][0]["paused"] == 1
        assert (await boss.get("/wallboard")).status_code == 200
        assert (await boss.get("/api/campaigns")).status_code == 200

        for reply in (
            await boss.get("/api/calls"),
            await agent.post("/api/calls", json={"number": "5551234"}),
        ):
            assert reply.status_code == 409, reply.text
            assert reply.json()["error"]["code"] == "no-telephony"
    finally:
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await follower
        for client in (agent, boss, on_daemon):
            await client.aclose()
