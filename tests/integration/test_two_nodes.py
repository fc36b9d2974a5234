"""Two nodes: two sandbox Asterisks, two `zentrale run` processes, one PostgreSQL, one S3 server.

Each daemon has its own node name and ARI app and lists the other node's Asterisk in
`ops.peers`, so whichever worker takes a recording job fetches the audio from the Asterisk that
made it. The test checks calls on both nodes with every recording stored exactly once, then
kills one daemon (SIGKILL) while it holds a recording job and checks the survivor finishes that
job once its lease expires, and goes on taking its own calls.

Live across nodes (the bus on PostgreSQL LISTEN/NOTIFY): node B's agent appears on node A's
supervisors' API, its state changes arrive over A's event stream, and requests sent to node A
for B's agent or call are carried out by node B (forwarded over the bus) and audited there:
Sam's state and pause, the recording pause of Sam's call, an administrator's monitor
session (start and stop), and the transfer state, targets and a refused transfer step.
B's page drops node A once A is dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.calls.models import Call
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.db.session import Database
from zentrale.ops.process import DaemonProcess, DaemonSpec
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.models import JobState, Recording, RecordingJob, RecordingState
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.testing.databases import fresh_database
from zentrale.testing.moto import MotoServer, start_moto_server, stop_moto_server

from .test_service import RULES

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres, pytest.mark.s3, pytest.mark.asyncio]

BUCKET, PREFIX = "recordings", "z/"
RULES_A = RULES.replace("Local/S1@", "Local/S2@")
"""Each node rings its own agent: S2 on node A, S1 (Sam) on node B."""
SOFTPHONE = {"sip_password": "softphones 1", "sip_domain": "sip.test"}
"""The browser softphones' settings (each node's own WebSocket URL is added)."""
LEASE = 60.0  # WorkerOptions.lease: how long a dead worker's job stays taken


@dataclass
class Node:
    """One node: its Asterisk and its daemon process."""

    name: str
    asterisk: SandboxInstance
    daemon: DaemonProcess


@dataclass
class Cluster:
    """Two nodes sharing one database and one bucket."""

    a: Node
    b: Node
    db: Database
    moto: MotoServer

    async def rows(self) -> list[tuple[Call, list[Recording]]]:
        async with self.db.read() as session:
            calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
            found = []
            for call in calls:
                query = select(Recording).where(Recording.call_id == call.id)
                found.append((call, list(await session.scalars(query))))
            return found

    async def jobs(self) -> list[tuple[RecordingJob, str | None]]:
        query = (
            select(RecordingJob, Call.asterisk_node)
            .join(Recording, Recording.id == RecordingJob.recording_id)
            .join(Call, Call.id == Recording.call_id)
        )
        async with self.db.read() as session:
            return [(job, node) for job, node in (await session.execute(query)).all()]

    def objects(self) -> list[str]:
        client = make_client("s3", ClientSettings(endpoint_url=self.moto.endpoint_url))
        try:
            listing = client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
            return [item["Key"] for item in listing.get("Contents", [])]
        finally:
            client.close()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, pause: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(pause)
    return False


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")  # the daemons inherit these
    server = start_moto_server()
    client = make_client("s3", ClientSettings(endpoint_url=server.endpoint_url))
    client.create_bucket(Bucket=BUCKET)
    client.close()
    yield server
    stop_moto_server(server)


@pytest_asyncio.fixture
async def cluster(tmp_path: Path, moto: MotoServer) -> AsyncIterator[Cluster]:
    root = await asyncio.to_thread(ensure_root)
    tag = os.getpid()
    shared = secrets.token_urlsafe(32)  # the cluster's api.session_secret: it signs the bus
    stars = [SandboxInstance(root, name=f"two-{n}-{tag}", app=f"zentrale_{n}") for n in "ab"]
    daemons: list[DaemonProcess] = []
    with fresh_database("postgresql", tmp_path, "zentrale_two") as url:
        try:
            for star in stars:
                await asyncio.to_thread(star.start)
            storage = {
                "kind": "s3",
                "s3": {"bucket": BUCKET, "prefix": PREFIX, "endpoint_url": moto.endpoint_url},
            }
            nodes = []
            for star, other, name in ((stars[0], stars[1], "a"), (stars[1], stars[0], "b")):
                peer = "node-b" if name == "a" else "node-a"
                spec = DaemonSpec(
                    tmp_path / name,
                    star.ari,
                    RULES if name == "b" else RULES_A,
                    node=f"node-{name}",
                    database_url=url,
                    storage=storage,
                    peers={peer: other.ari},
                    sections={"agents": {**SOFTPHONE, "websocket_url": f"ws://{name}.test/ws"}},
                    session_secret=shared,
                )
                daemon = DaemonProcess(spec)
                daemons.append(daemon)
                daemon.start()
                # One after the other: the first start migrates the shared database.
                await asyncio.to_thread(daemon.wait_ready)
                nodes.append(Node(f"node-{name}", star, daemon))
            async with Database.open(url) as db:
                yield Cluster(nodes[0], nodes[1], db, moto)
        finally:
            for daemon in daemons:
                daemon.signal(signal.SIGCONT)
                daemon.stop(30)
            for star in stars:
                await asyncio.to_thread(star.stop)
                await asyncio.to_thread(star.remove)


async def _call(node: Node, talk: int = 3) -> None:
    creds = node.asterisk.ari
    agent = PartyScript(answer_after=0.5, talk=talk, then="hangup")
    await script_party(creds, "agent", "S2" if node.name == "node-a" else "S1", agent)
    await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.5, then="wait"))


async def _user(db: Database, role: Role, phone: str | None = None) -> dict[str, str]:
    """Return the bearer header of a new user of ROLE (with PHONE)."""
    users = UserStore(db)
    new = NewUser(
        username=str(role),
        display_name=str(role).title(),
        password="a long password 1",
        role=role,
        departments=("sales",),
        agent_endpoint=phone,
    )
    user = await users.add(new)
    return {"Authorization": f"Bearer {(await users.issue_token(user.id, 'test', 1)).secret}"}


async def _follow(
    url: str, headers: dict[str, str], seen: list[dict[str, object]], path: str
) -> None:
    """Append every event of the stream at URL/PATH to SEEN (reconnecting), with its name."""
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=90) as http:
        while True:
            async with http.stream("GET", path) as reply:
                reply.raise_for_status()
                name = "message"
                async for line in reply.aiter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        seen.append({**(json.loads(line[6:]) or {}), "event": name})
                        name = "message"


def _rows(board: dict[str, object], node: str) -> list[dict[str, object]]:
    rows = board["agents"]
    assert isinstance(rows, list)
    return [row for row in rows if row["node"] == node]


async def _through_a(
    url: str, admin: dict[str, str], sam: dict[str, str], seen: list[dict[str, object]]
) -> dict[str, dict[str, object]]:
    """On node A, act on the first call of node B it sees: monitor it (the administrator),
    pause and resume its recording and ask for its transfer state (Sam, whom B rings), stop
    the monitor; return A's answers."""

    async def seen_call() -> bool:
        return any(r["call"] for board in seen for r in _rows(board, "node-b"))

    assert await _until(seen_call, 120, pause=0.1), seen[-3:]
    calls = [r["call"] for board in seen for r in _rows(board, "node-b") if r["call"]]
    call_id = calls[-1]["call_id"]  # type: ignore[index]
    answers: dict[str, dict[str, object]] = {}
    async with httpx.AsyncClient(base_url=url, headers=admin, timeout=60) as http:
        reply = await http.post(f"/api/supervise/calls/{call_id}/monitor", json={"mode": "listen"})
        assert reply.status_code == 201, reply.text
        assert reply.headers["x-zentrale-node"] == "node-b"
        answers["monitor"] = reply.json()
        async with httpx.AsyncClient(base_url=url, headers=sam) as agent:
            for paused in (True, False):
                reply = await agent.post("/api/agent/recording", json={"paused": paused})
                assert reply.status_code == 200, reply.text
                answers[f"paused={paused}"] = reply.json()
            reply = await agent.get("/api/agent/transfer")
            assert reply.status_code == 200, reply.text
            answers["transfer"] = reply.json()
            reply = await agent.get("/api/agent/transfer/targets")
            answers["targets"] = reply.json()
            reply = await agent.post("/api/agent/consult/complete", json={})
            assert reply.status_code == 409, reply.text  # B's answer: no consultation to complete
            answers["complete"] = reply.json()["error"]
        reply = await http.get("/api/agent/transfer", params={"call_id": call_id})
        assert reply.status_code == 200, reply.text
        answers["transfer_named"] = reply.json()
        session = answers["monitor"]["id"]

        async def a_heard_session() -> bool:
            return any(
                ((r["call"] or {}).get("monitor") or {}).get("id") == session  # type: ignore[attr-defined]
                for board in seen
                for r in _rows(board, "node-b")
            )

        assert await _until(a_heard_session, 20, pause=0.1), seen[-3:]
        reply = await http.delete(f"/api/supervise/monitors/{session}")
        assert reply.status_code == 200, reply.text
        answers["stop"] = reply.json()
    return answers


async def test_two_nodes_store_every_recording_once_and_survive_one_daemon_dying(
    cluster: Cluster,
) -> None:
    a, b = cluster.a, cluster.b
    headers = await _user(cluster.db, Role.ADMIN, "Local/S7@sim-agent/n")  # answers when rung
    sam = await _user(cluster.db, Role.AGENT, "Local/S1@sim-agent/n")  # node B rings Sam
    assert a.daemon.url is not None
    assert b.daemon.url is not None
    seen: list[dict[str, object]] = []
    heard: list[dict[str, object]] = []  # Sam's workspace stream, on node A
    supervise = _follow(a.daemon.url, headers, seen, "/api/supervise/events")
    followers = [asyncio.create_task(supervise)]
    async with httpx.AsyncClient(base_url=a.daemon.url, headers=headers) as http:

        async def b_on_a() -> bool:
            board = (await http.get("/api/supervise")).json()
            return bool(_rows(board, "node-b")) and bool(_rows(board, "node-a"))

        assert await _until(b_on_a, 30), (await http.get("/api/supervise")).text
        pause = {"endpoint": "Local/S1@sim-agent/n", "paused": False}  # Sam, rung by node B
        reply = await http.post("/api/agents/pause", json=pause)
        assert (reply.status_code, reply.headers.get("x-zentrale-node")) == (200, "node-b")
    async with httpx.AsyncClient(base_url=a.daemon.url, headers=sam) as http:
        # Sam's workspace on node A acts through node B, which rings Sam.
        reply = await http.get("/api/agent/state")
        assert reply.status_code == 200, reply.text
        assert (reply.json()["state"], reply.headers["x-zentrale-node"]) == ("available", "node-b")
        reply = await http.post("/api/agent/state", json={"state": "paused", "reason": "break"})
        assert (reply.json()["state"], reply.json()["reason"]) == ("paused", "break"), reply.text
        reply = await http.post("/api/agent/state", json={"state": "available"})
        assert reply.json()["state"] == "available", reply.text
        page = await http.get("/agent")  # the workspace opens here, with B's view of Sam
        assert page.status_code == 200, page.text
        assert "ws://b.test/ws" in page.headers["content-security-policy"]
        reply = await http.get("/api/agent/softphone")  # Sam registers with B's Asterisk
        assert reply.status_code == 200, reply.text
        assert (reply.json()["websocket_url"], reply.headers["x-zentrale-node"]) == (
            "ws://b.test/ws",
            "node-b",
        )
        reply = await http.get("/api/agent/callbacks")  # Sam's callbacks, listed by B
        assert (reply.json(), reply.headers["x-zentrale-node"]) == ([], "node-b"), reply.text
        long = {"notes": "n" * 4000, "suggestion": "s" * 4000}  # more than the bus carries back
        reply = await http.put("/api/calls/c1/wrapup", json=long)
        assert reply.json()["error"]["code"] == "forward-too-large", reply.text
    followers.append(asyncio.create_task(_follow(a.daemon.url, sam, heard, "/api/agent/events")))
    # Calls on both nodes at once, two each (each node's one agent takes them in turn).
    # B's calls last long enough for node A to monitor one and pause its recording.
    *_, answers = await asyncio.gather(
        _call(a),
        _call(a),
        _call(b, talk=12),
        _call(b, talk=12),
        _through_a(a.daemon.url, headers, sam, seen),
    )

    async def four_stored() -> bool:
        rows = await cluster.rows()
        stored = [r for _c, recs in rows for r in recs if r.state == RecordingState.STORED]
        return len(stored) == 4

    assert await _until(four_stored, 180), a.daemon.text()[-2000:] + b.daemon.text()[-2000:]
    states = {str(r["state"]) for board in seen for r in _rows(board, "node-b")}
    assert {"available", "on_call"} <= states, states  # B's changes reached A's stream
    monitored = answers["monitor"]
    assert (monitored["agent"], monitored["mode"]) == ("Local/S1@sim-agent/n", "listen")
    call = f"call:{monitored['call_id']}"
    assert answers["paused=True"] == {
        "call_id": monitored["call_id"],
        "recording": True,
        "paused": True,
    }
    assert answers["paused=False"]["paused"] is False
    assert answers["stop"]["id"] == monitored["id"]
    assert answers["transfer"]["call_id"] == monitored["call_id"]
    assert answers["transfer"]["phase"] == "talking"
    assert answers["transfer_named"] == answers["transfer"]
    assert answers["targets"]["departments"] == ["sales"]
    assert answers["complete"]["code"] == "transfer-wrong-state"
    # Node B carried them out and audited them as its own requests.
    async with cluster.db.read() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    forwarded = {"agent.paused", "agent.available", "monitor.start", "monitor.stop"}
    forwarded |= {"call.recording_paused", "call.recording_resumed"}
    sam_target = "agent:Local/S1@sim-agent/n"
    assert [(e.action, e.target, e.actor_name) for e in entries if e.action in forwarded] == [
        ("agent.paused", sam_target, "agent"),
        ("agent.available", sam_target, "agent"),
        ("monitor.start", call, "admin"),
        ("call.recording_paused", call, "agent"),
        ("call.recording_resumed", call, "agent"),
        ("monitor.stop", call, "admin"),
    ]
    for follower in followers:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    # Sam's workspace on node A: their state and the screen pops of node B's calls.
    states = {str(e["state"]) for e in heard if e["event"] == "state"}
    assert {"available", "on_call"} <= states, heard
    pops = [e for e in heard if e["event"] == "ringing"]
    assert len({e["call_id"] for e in pops}) == 2, heard  # node B's two calls rang Sam
    assert all(e["department"] == "sales" for e in pops), pops
    moved = {e.get("call_id") for e in heard if e["event"] == "transfer"}
    assert moved == {None} | {e["call_id"] for e in pops}, heard  # B's transfer states too
    rows = await cluster.rows()
    assert sorted(call.asterisk_node or "" for call, _ in rows) == [
        "node-a",
        "node-a",
        "node-b",
        "node-b",
    ]
    assert {call.app_name for call, _ in rows} == {"zentrale_a", "zentrale_b"}
    recordings = [rec for _call_, recs in rows for rec in recs]
    keys = [PREFIX + (rec.object_key or "") for rec in recordings]
    assert len(set(keys)) == 4
    assert sorted(cluster.objects()) == sorted(keys)  # exactly once each, nothing else

    # Freeze B so that A's worker, not B's, takes A's next recording job; kill A while it
    # holds that job, then let B go on.
    # The S3 server is frozen too: A's upload waits, so A holds its job until it is killed (a
    # stored recording is a job of about 0.1 s, shorter than polling can catch for sure).
    moto = cluster.moto.process
    assert moto is not None
    b.daemon.signal(signal.SIGSTOP)
    moto.send_signal(signal.SIGSTOP)
    try:
        await _call(a, talk=2)

        async def held_by_a() -> bool:
            jobs = await cluster.jobs()
            return any(
                job.state == JobState.RUNNING and (job.locked_by or "").startswith("node-a:")
                for job, _node in jobs
            )

        assert await _until(held_by_a, 120, pause=0.05), a.daemon.text()[-3000:]
        a.daemon.signal(signal.SIGKILL)
        assert await asyncio.to_thread(a.daemon.wait, 30) == -signal.SIGKILL
        killed_at = time.monotonic()
    finally:
        moto.send_signal(signal.SIGCONT)
        b.daemon.signal(signal.SIGCONT)
    orphaned = [job for job, node in await cluster.jobs() if job.state != JobState.DONE]
    assert orphaned, "A finished its job before it was killed"
    assert all(job.locked_by is None or job.locked_by.startswith("node-a:") for job in orphaned)

    # B keeps taking its own calls while A's job waits for its lease to expire.
    await _call(b, talk=2)

    async def all_stored() -> bool:
        rows = await cluster.rows()
        recs = [rec for _c, recs in rows for rec in recs]
        return len(recs) == 6 and all(rec.state == RecordingState.STORED for rec in recs)

    assert await _until(all_stored, LEASE + 180), b.daemon.text()[-3000:]
    took = time.monotonic() - killed_at
    rows = await cluster.rows()
    by_node: dict[str | None, int] = {}
    for call, recs in rows:
        by_node[call.asterisk_node] = by_node.get(call.asterisk_node, 0) + len(recs)
    assert by_node == {"node-a": 3, "node-b": 3}
    keys = [PREFIX + (rec.object_key or "") for _c, recs in rows for rec in recs]
    assert sorted(cluster.objects()) == sorted(keys)
    assert all(job.state == JobState.DONE for job, _node in await cluster.jobs())
    assert b.daemon.process is not None
    assert b.daemon.process.poll() is None
    assert "job leases expired" in b.daemon.text()
    async with httpx.AsyncClient(base_url=b.daemon.url, headers=headers) as http:
        board = (await http.get("/api/supervise")).json()  # A died over a minute ago
    assert _rows(board, "node-b"), board
    assert not _rows(board, "node-a"), board
    assert [n["node"] for n in board["nodes"]] == ["node-b"]
    print(f"two nodes: killed node's job finished by the survivor {took:.0f} s after the kill")
