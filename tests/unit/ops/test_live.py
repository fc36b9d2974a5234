"""Several nodes, live: what a node publishes (deltas, heartbeats, packed under the bus's
limit) and how another node merges it into the supervisors' page, on a real board and the
in-process bus with hand-moved clocks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from zentrale.db.bus import MAX_PAYLOAD, LocalBus
from zentrale.ops.live import (
    HEARTBEAT,
    TIMEOUT,
    TOPIC,
    LiveNodes,
    NodePublisher,
    merged,
    pack,
    shown_once,
)
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.queueing import Queues
from zentrale.telephony.screenpop import MenuStep, Pop, ScreenPops
from zentrale.telephony.supervision import snapshot

DEPARTMENTS = {"sales": ["PJSIP/a", "PJSIP/b"], "support": ["PJSIP/c"]}


class Clock:
    """A clock moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _node(mono: Clock) -> tuple[AgentBoard, Queues]:
    board = AgentBoard(mono)
    board.know([("PJSIP/a", "Ayşe"), ("PJSIP/b", "Berk"), ("PJSIP/c", "Cem")])
    return board, Queues(board)


async def _nothing(_seconds: float) -> None:
    return None


def test_rows_are_packed_into_messages_under_the_bus_limit_and_none_is_lost() -> None:
    rows = [{"endpoint": f"PJSIP/{n}", "name": "x" * 200} for n in range(120)]
    queues = [{"department": f"d{n}", "waiting": n, "oldest_at": 0} for n in range(40)]
    messages = pack({"node": "b", "at": 1.0}, rows, queues)
    assert len(messages) > 2
    assert all(len(m.encode()) <= MAX_PAYLOAD for m in messages)
    bodies = [json.loads(m) for m in messages]
    assert [r for b in bodies for r in b["agents"]] == rows
    assert [q for b in bodies for q in b["queues"]] == queues
    assert all(b["node"] == "b" for b in bodies)
    assert pack({"node": "b"}, [], []) == ['{"node":"b","agents":[],"queues":[]}']


@pytest.mark.asyncio
async def test_another_node_sees_state_changes_as_deltas_and_drops_a_silent_node() -> None:
    mono, wall = Clock(1000.0), Clock(1_800_000_000.0)
    board, queues = _node(mono)

    def local() -> dict[str, Any]:
        return snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=mono())

    bus = LocalBus()
    head = {"node": "node-b", "url": "http://b:8080"}
    publisher = NodePublisher(bus, lambda: head, local, _nothing, wall, lambda: True)
    here = LiveNodes("node-a", wall)
    with bus.subscribe(TOPIC) as messages:
        await publisher.step()  # the first step is a full snapshot
        here.take(await anext(messages))
        assert [(r["node"], r["endpoint"], r["state"]) for r in here.agents(None)] == [
            ("node-b", "PJSIP/a", "available"),
            ("node-b", "PJSIP/b", "available"),
            ("node-b", "PJSIP/c", "available"),
        ]
        await publisher.step()  # nothing changed: nothing sent
        mono.now += 2
        wall.now += 2
        board.pause("PJSIP/b", True, "lunch")
        await publisher.step()
        delta = json.loads(await anext(messages))
        assert [r["endpoint"] for r in delta["agents"]] == ["PJSIP/b"]
        assert delta["full"] is False
        here.take(json.dumps(delta))
        wall.now += 3
        paused = [r for r in here.agents(["sales"]) if r["endpoint"] == "PJSIP/b"]
        assert paused[0]["state"] == "paused"
        assert paused[0]["reason"] == "lunch"
        assert paused[0]["in_state_s"] == 3
        assert {r["endpoint"] for r in here.agents(["sales"])} == {"PJSIP/a", "PJSIP/b"}
        mono.now += HEARTBEAT
        wall.now += HEARTBEAT
        await publisher.step()  # heartbeat: everything again
        assert len(json.loads(await anext(messages))["agents"]) == 3
        assert publisher.messages == 3
    wall.now += TIMEOUT + 1  # node-b fell silent
    assert here.agents(None) == []
    assert here.nodes() == []


@pytest.mark.asyncio
async def test_the_page_merges_nodes_one_row_per_agent_and_node_and_refers_calls() -> None:
    mono, wall = Clock(50.0), Clock(1_800_000_000.0)
    board_a, queues_a = _node(mono)
    board_b, queues_b = _node(mono)
    board_a.set_online("PJSIP/c", False)  # C's phone is registered on node B only
    board_b.set_online("PJSIP/a", False)
    board_b.set_online("PJSIP/b", False)
    board_b.set_online("PJSIP/c", True)
    here = LiveNodes("node-a", wall)
    shot_b = snapshot(board_b, queues_b, DEPARTMENTS, [], [], only=None, now=mono())
    bus = LocalBus()
    publisher = NodePublisher(
        bus, lambda: {"node": "node-b", "url": None}, lambda: shot_b, _nothing, wall, lambda: True
    )
    with bus.subscribe(TOPIC) as messages:
        await publisher.step()
        here.take(await anext(messages))
    here.take('{"node": "node-a", "agents": [], "queues": []}')  # its own: ignored
    here.take("not json")  # logged and ignored
    here.take('{"node": "node-c", "agents": [{"endpoint": "PJSIP/x"}], "queues": []}')
    own = snapshot(board_a, queues_a, DEPARTMENTS, [], [], only=None, now=mono())
    page = merged(own, "node-a", here, None)
    assert [(r["endpoint"], r["node"], r["state"]) for r in page["agents"]] == [
        ("PJSIP/a", "node-a", "available"),
        ("PJSIP/b", "node-a", "available"),
        ("PJSIP/c", "node-b", "available"),
    ]
    assert page["nodes"] == [
        {"node": "node-a", "here": True},
        {"node": "node-b", "url": None, "here": False},
    ]
    assert here.node_of_call("0" * 32) is None
    call = {"call_id": "c" * 32, "department": "support", "caller": "+49***12", "monitor": None}
    row = {**page["agents"][2], "state": "on_call", "since_at": int(wall()) - 4}
    row["call"] = {**call, "connected_at": int(wall()) - 4}
    queue = {"department": "support", "waiting": 2, "oldest_at": int(wall()) - 30}
    here.take(json.dumps({"node": "node-b", "url": "http://b", "agents": [row], "queues": [queue]}))
    assert here.node_of_call("c" * 32) == {"node": "node-b", "url": "http://b"}
    own = snapshot(board_a, queues_a, DEPARTMENTS, [], [], only=["support"], now=mono())
    page = merged(own, "node-a", here, ["support"])
    assert [(r["node"], r["state"], r["call"]["duration_s"]) for r in page["agents"]] == [
        ("node-b", "on_call", 4)
    ]
    assert page["queues"] == [{"department": "support", "waiting": 2, "longest_wait_s": 30}]


@pytest.mark.asyncio
async def test_a_pop_offered_on_one_node_reaches_the_agents_followers_on_another() -> None:
    mono, wall = Clock(10.0), Clock(1_800_000_000.0)
    board, queues = _node(mono)
    pops = ScreenPops()

    def local() -> dict[str, Any]:
        return snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=mono())

    bus = LocalBus()
    there = LiveNodes("node-b", wall)  # what node-b hears of the others
    publisher = NodePublisher(
        bus, lambda: {"node": "node-b", "url": None}, local, _nothing, wall, there.has_others
    )
    pops.on_offer(publisher.offered)
    here = LiveNodes("node-a", wall)
    path = (MenuStep("main", "1"), MenuStep("pin", "1234", sensitive=True))
    pop = Pop("c" * 32, "PJSIP/a", "+4930123", "100", "sales", {"name": "Ada"}, path, 3.0)
    with bus.subscribe(TOPIC) as messages, here.pops.follow("PJSIP/a") as followed:
        pops.offer(pop)  # node-b hears no other node yet: the pop stays on node-b
        await asyncio.sleep(0)
        assert publisher.messages == 0
        there.take(json.dumps({"node": "node-a", "url": None, "agents": [], "queues": []}))
        assert board.reserve("PJSIP/a")
        await publisher.step()
        here.take(await anext(messages))
        pops.offer(pop)
        here.take(await anext(messages))
        got = followed.get_nowait()
        assert got.as_json() == {
            **pop.as_json(),
            "path": [
                {"menu": "main", "digits": "1"},
                {"menu": "pin", "digits": "***"},
            ],
        }
        assert here.agent("PJSIP/a")["state"] == "ringing"  # type: ignore[index]
        board.connected("PJSIP/a", "sales")
        await publisher.step()
        here.take(await anext(messages))  # on a call: the pop is withdrawn
    assert here.pops.ringing("PJSIP/a") is None
    await asyncio.sleep(0)  # the pop's send task is done
    assert publisher.messages == 3


@pytest.mark.asyncio
async def test_a_malformed_message_is_skipped_and_the_listener_goes_on() -> None:
    bus, here = LocalBus(), LiveNodes("node-a", Clock(1_800_000_000.0))
    listening = asyncio.create_task(here.run(bus))
    await asyncio.sleep(0)
    pop = Pop("c" * 32, "PJSIP/a", "+4930123", "100", "sales", {}, (), 3.0)
    odd = {**pop.as_json(), "endpoint": "PJSIP/a", "customer": ["not", "a", "dict"]}
    await bus.publish(TOPIC, json.dumps({"node": "node-b", "pop": odd}))
    await bus.publish(TOPIC, json.dumps({"node": "node-b", "agents": [], "queues": []}))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not listening.done()
    assert [n["node"] for n in here.nodes()] == ["node-b"]
    listening.cancel()


@pytest.mark.asyncio
async def test_a_transfer_state_reaches_the_other_node_but_not_the_supervisors_rows() -> None:
    mono, wall = Clock(1000.0), Clock(1_800_000_000.0)
    board, queues = _node(mono)
    transfers: dict[str, dict[str, Any]] = {}

    def local() -> dict[str, Any]:
        shot = snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=mono())
        for row in shot["agents"]:
            row["transfer"] = transfers.get(row["endpoint"])
        return shot

    bus = LocalBus()
    publisher = NodePublisher(
        bus, lambda: {"node": "node-b", "url": None}, local, _nothing, wall, lambda: True
    )
    here = LiveNodes("node-a", wall)
    with bus.subscribe(TOPIC) as messages:
        await publisher.step()
        here.take(await anext(messages))
        assert here.transfer("PJSIP/a") is None
        moving = {"call_id": "c1", "phase": "ringing", "target": "sales", "consulted": None}
        transfers["PJSIP/a"] = {**moving, "last": None}
        await publisher.step()  # only the transfer moved: a delta with that row
        delta = json.loads(await anext(messages))
        assert [r["endpoint"] for r in delta["agents"]] == ["PJSIP/a"]
        here.take(json.dumps(delta))
    assert here.transfer("PJSIP/a") == {**moving, "last": None}
    assert here.transfer("PJSIP/b") is None
    assert here.transfer("PJSIP/z") is None  # no node rings them
    assert all("transfer" not in row for row in here.agents(None))


def _said(live: LiveNodes, node: str, rows: list[dict[str, Any]]) -> None:
    """Let NODE say its agent ROWS (endpoint, state) to LIVE."""
    full = [
        {"name": r["endpoint"][-1], "departments": ["sales"], "call": None, "since_at": 90, **r}
        for r in rows
    ]
    live.take(json.dumps({"node": node, "url": f"http://{node}", "agents": full, "queues": []}))


def test_an_agents_home_is_where_they_are_online_else_the_first_node_that_knows_them() -> None:
    live = LiveNodes("node-r", Clock(100.0))
    _said(live, "node-b", [{"endpoint": "PJSIP/a", "state": "offline"}])
    _said(live, "node-c", [{"endpoint": "PJSIP/a", "state": "offline"}])
    # Offline everywhere (the softphone has not registered yet): the first node by name.
    assert live.node_of_agent("PJSIP/a") is None
    assert live.home_of_agent("PJSIP/a") == {"node": "node-b", "url": "http://node-b"}
    _said(live, "node-c", [{"endpoint": "PJSIP/a", "state": "available"}])
    assert live.home_of_agent("PJSIP/a") == {"node": "node-c", "url": "http://node-c"}
    assert live.home_of_agent("PJSIP/z") is None


def test_an_agent_known_to_several_nodes_is_shown_where_online_and_offline_once() -> None:
    rows = [
        {"endpoint": "PJSIP/a", "name": "A", "state": "offline", "node": "here"},
        {"endpoint": "PJSIP/a", "name": "A", "state": "paused", "node": "node-b"},
        {"endpoint": "PJSIP/c", "name": "C", "state": "offline", "node": "node-b"},
        {"endpoint": "PJSIP/c", "name": "C", "state": "offline", "node": "here"},
        {"endpoint": "PJSIP/b", "name": "B", "state": "idle", "node": "here"},
    ]
    shown = shown_once(rows, "here")
    assert [(r["endpoint"], r["node"]) for r in shown] == [
        ("PJSIP/a", "node-b"),
        ("PJSIP/b", "here"),
        ("PJSIP/c", "here"),  # offline on both: once, this node's row
    ]


@pytest.mark.asyncio
async def test_a_node_nobody_hears_sends_only_its_heartbeat_and_builds_nothing_between() -> None:
    mono, wall = Clock(1000.0), Clock(1_800_000_000.0)
    board, queues = _node(mono)
    built: list[float] = []
    heard = False

    def local() -> dict[str, Any]:
        built.append(wall())
        return snapshot(board, queues, DEPARTMENTS, [], [], only=None, now=mono())

    bus = LocalBus()
    head = {"node": "node-b", "url": None}
    publisher = NodePublisher(bus, lambda: head, local, _nothing, wall, lambda: heard)
    with bus.subscribe(TOPIC) as messages:
        await publisher.step()  # the heartbeat: the node makes itself known
        assert json.loads(await anext(messages))["full"] is True
        board.pause("PJSIP/b", True, "lunch")
        wall.now += 1
        await publisher.step()  # a change nobody would hear: not even the snapshot is built
        assert len(built) == 1
        heard = True  # another node appears: changes go out again, as deltas
        board.pause("PJSIP/c", True, "lunch")
        await publisher.step()
        delta = json.loads(await anext(messages))
        assert delta["full"] is False
        assert [r["endpoint"] for r in delta["agents"]] == ["PJSIP/b", "PJSIP/c"]
        heard = False
        wall.now += HEARTBEAT
        await publisher.step()  # alone again: the heartbeat still goes out
        assert json.loads(await anext(messages))["full"] is True
    assert len(built) == 3
