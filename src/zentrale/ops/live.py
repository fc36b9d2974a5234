"""Several nodes, live: every daemon tells the others its agents and queues over the live bus.

Each daemon's `NodePublisher` sends, on topic `TOPIC`, its agents' rows (state, since when,
pause reason, the call they are on) whenever one changes, and all of them with its queues'
waits every `HEARTBEAT` seconds (with its node name and URL). A message stays under the bus's
payload limit: rows are packed into as many messages as needed. Times on the wire are wall
clock seconds (nodes' monotonic clocks differ). `LiveNodes` gathers what the other nodes send;
a row or queue not heard of for `TIMEOUT` seconds is dropped, so a node that died leaves the
supervisors' page after that long. `merged` joins this node's own snapshot and the others'.
A screen pop (caller number, customer) is sent only while other nodes are heard: a single node
keeps its pops to itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from zentrale.db.bus import MAX_PAYLOAD, LiveBus
from zentrale.ops.forward import Forwarder
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.inbound import InboundCall
from zentrale.telephony.screenpop import MenuStep, Pop, ScreenPops
from zentrale.telephony.supervision import LiveCall, snapshot
from zentrale.telephony.transfer import NotOnCallError

log = structlog.get_logger(__name__)

TOPIC = "zentrale_live"
HEARTBEAT = 5.0
"""Seconds between full snapshots of a node (and so its heartbeat)."""
TIMEOUT = 3 * HEARTBEAT
"""Seconds after which a node's row not heard of again is dropped (the node died)."""
TICK = 1.0
Departments = Callable[[], Mapping[str, Sequence[str]]]
Wall = Callable[[], float]


def live_calls(center: CallCenter) -> list[LiveCall]:
    """Return the calls connected to an agent on CENTER now."""
    return [
        LiveCall(
            call_id=call_id,
            agent_endpoint=inbound.agent_endpoint,
            department=inbound.department,
            caller=inbound.caller,
            connected_at=inbound.connected_at,
        )
        for call_id, inbound in center.active.items()
        if inbound.agent_endpoint is not None and inbound.connected_at is not None
    ]


def center_snapshot(
    center: CallCenter, departments: Departments, only: Sequence[str] | None
) -> dict[str, Any]:
    """Return the supervisors' snapshot of CENTER (ONLY these departments when given)."""
    return snapshot(
        center.services.queues.board,
        center.services.queues,
        departments(),
        live_calls(center),
        list(center.monitors.sessions.values()),
        only=only,
        now=time.monotonic(),
    )


def transfer_state(center: CallCenter, endpoint: str) -> dict[str, Any] | None:
    """Return the attended transfer state of ENDPOINT's call on CENTER, as the workspace's
    `transfer` event carries it (None: no call connected)."""
    try:
        inbound = center.call_of(endpoint)
    except NotOnCallError:
        return None
    return _transfer_of(inbound)


def _transfer_of(inbound: InboundCall) -> dict[str, Any]:
    return {"call_id": inbound.id, **inbound.transfer.as_json()}


def with_transfers(shot: dict[str, Any], center: CallCenter) -> dict[str, Any]:
    """Return SHOT with each agent row's transfer state (`transfer`), for the agents'
    workspace streams on other nodes (the supervisors' page does not show it)."""
    connected: dict[str | None, dict[str, Any]] = {}
    for inbound in center.active.values():  # once, not once per agent (`transfer_state`)
        if inbound.agent_leg is not None:
            connected.setdefault(inbound.agent_endpoint, _transfer_of(inbound))  # as `call_of`
    for row in shot["agents"]:
        row["transfer"] = connected.get(str(row["endpoint"]))
    return shot


def wire(shot: Mapping[str, Any], wall: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return SHOT's agent rows and queues with durations turned into wall-clock times."""
    agents = []
    for row in shot["agents"]:
        out = {k: v for k, v in row.items() if k != "in_state_s"}
        out["since_at"] = int(wall - row["in_state_s"])
        if row["call"] is not None:
            call = {k: v for k, v in row["call"].items() if k != "duration_s"}
            call["connected_at"] = int(wall - row["call"]["duration_s"])
            out["call"] = call
        agents.append(out)
    queues = [
        {
            "department": q["department"],
            "waiting": q["waiting"],
            "oldest_at": int(wall - q["longest_wait_s"]),
        }
        for q in shot["queues"]
    ]
    return agents, queues


def pack(head: Mapping[str, Any], agents: Sequence[Any], queues: Sequence[Any]) -> list[str]:
    """Return HEAD with AGENTS and QUEUES spread over messages that fit the bus (at least one)."""
    empty = {**head, "agents": [], "queues": []}
    base = _size(empty)
    messages: list[str] = []
    body: dict[str, list[Any]] = {"agents": [], "queues": []}
    size = base
    for kind, item in [("agents", a) for a in agents] + [("queues", q) for q in queues]:
        grows = _size(item) + 1  # its comma
        if base + grows > MAX_PAYLOAD:
            log.warning("live.row_too_large", kind=kind)
            continue
        if size + grows > MAX_PAYLOAD:
            messages.append(_text({**head, **body}))
            body, size = {"agents": [], "queues": []}, base
        body[kind].append(item)
        size += grows
    if body["agents"] or body["queues"] or not messages:
        messages.append(_text({**head, **body}))
    return messages


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _size(value: Any) -> int:
    return len(_text(value).encode())


def _key(row: Mapping[str, Any]) -> str:
    """Return what identifies a row's state (without its times, which drift by rounding)."""
    call = row.get("call")
    stable = {**row, "since_at": None, "call": {**call, "connected_at": None} if call else None}
    return json.dumps(stable, sort_keys=True)


class NodePublisher:
    """Sends this node's agents and queues on the live bus: changes at once, all regularly."""

    def __init__(
        self,
        bus: LiveBus,
        head: Callable[[], dict[str, Any]],
        local: Callable[[], dict[str, Any]],
        wait: Callable[[float], Awaitable[None]],
        wall: Wall = time.time,
        others: Callable[[], bool] = lambda: False,
    ) -> None:
        self._bus, self._head, self._local, self._wait, self._wall = bus, head, local, wait, wall
        self._others = others
        """Whether other nodes are heard now (else pops stay on this node)."""
        self._pending: set[asyncio.Task[None]] = set()
        self._sent: dict[str, str] = {}
        self._queues = ""
        self._full_at = 0.0
        self.messages = 0

    async def step(self) -> None:
        """Send what changed since the last step, or everything when a heartbeat is due.

        While no other node is heard (one node; the others not started yet) only the heartbeat
        is sent: a change would reach nobody, and building the snapshot of every agent at each
        change cost a single node a fifth of its CPU per call. A node that appears learns
        everything from the next heartbeat, as it would anyway."""
        wall = self._wall()
        full = wall - self._full_at >= HEARTBEAT
        if not full and not self._others():
            return
        agents, queues = wire(self._local(), wall)
        keys = {row["endpoint"]: _key(row) for row in agents}
        queue_key = json.dumps([(q["department"], q["waiting"]) for q in queues])
        if not full:
            agents = [
                row for row in agents if self._sent.get(row["endpoint"]) != keys[row["endpoint"]]
            ]
            queues = queues if queue_key != self._queues else []
            if not agents and not queues:
                return
        else:
            self._full_at = wall
        self._sent, self._queues = keys, queue_key
        for message in pack({**self._head(), "at": wall, "full": full}, agents, queues):
            await self._bus.publish(TOPIC, message)
            self.messages += 1

    def offered(self, pop: Pop) -> None:
        """Send POP, a call about to ring one of this node's agents, to the other nodes (if any)."""
        if not self._others():
            return
        body = {**pop.as_json(), "endpoint": pop.endpoint}
        message = _text({"node": self._head()["node"], "pop": body})
        task = asyncio.ensure_future(self._bus.publish(TOPIC, message))
        self._pending.add(task)
        task.add_done_callback(self._sent_pop)

    def _sent_pop(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("live.pop_not_sent", error=type(task.exception()).__name__)
        self.messages += 1

    async def run(self) -> None:
        """Step on every change the wait says (the board, a transfer; at least every `TICK`)
        until cancelled."""
        while True:
            try:
                await self.step()
            except Exception:  # never let one bad step end the node's heartbeat
                log.exception("live.publish_failed")
            await self._wait(TICK)


@dataclass
class _Heard:
    value: dict[str, Any]
    at: float


def pop_of(body: Mapping[str, Any]) -> Pop:
    """Return the screen pop a node sent (digits of sensitive menus arrive masked)."""
    return Pop(
        call_id=str(body["call_id"]),
        endpoint=str(body["endpoint"]),
        caller=str(body["caller"]),
        dialled=str(body["dialled"]),
        department=str(body["department"]),
        customer={str(k): str(v) for k, v in body["customer"].items()},
        path=tuple(MenuStep(str(s["menu"]), s["digits"]) for s in body["path"]),
        waited_s=float(body["waited_s"]),
    )


def _check_row(row: Mapping[str, Any]) -> None:
    """Raise (KeyError, TypeError, ValueError) unless ROW has what the page reads."""
    str(row["endpoint"]) + str(row["state"])
    float(row["since_at"])
    if not isinstance(row["departments"], list):
        raise TypeError("departments")
    call = row["call"]
    if call is not None:
        str(call["call_id"])
        float(call["connected_at"])


class LiveNodes:
    """What the other nodes last said about their agents and queues."""

    def __init__(self, node: str, wall: Wall = time.time) -> None:
        self.node = node
        self._wall = wall
        self._agents: dict[tuple[str, str], _Heard] = {}
        self._queues: dict[tuple[str, str], _Heard] = {}
        self._nodes: dict[str, _Heard] = {}
        self.pops = ScreenPops()
        """The pops of calls ringing other nodes' agents now, for their workspaces here."""
        self._changed = asyncio.Event()
        self.forwarder: Forwarder | None = None
        """Carries requests for other nodes' agents and calls there (set by the daemon)."""

    def take(self, payload: str) -> None:
        """Note one message of another node (this node's own and malformed ones are ignored)."""
        try:
            message = json.loads(payload)
            node = str(message["node"])
            if node == self.node:
                return
            now = self._wall()
            if "pop" in message:
                self.pops.offer(pop_of(message["pop"]))
                self._wake()
                return
            for row in message["agents"]:
                _check_row(row)
                self._agents[(node, str(row["endpoint"]))] = _Heard({**row, "node": node}, now)
                ringing = self.pops.ringing(str(row["endpoint"]))
                if ringing is not None and row["state"] != "ringing":
                    self.pops.withdraw(ringing.endpoint, ringing.call_id)
            for queue in message["queues"]:
                float(queue["oldest_at"]) + int(queue["waiting"])
                self._queues[(node, str(queue["department"]))] = _Heard(queue, now)
            self._nodes[node] = _Heard({"node": node, "url": message.get("url")}, now)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("live.bad_message", error=type(exc).__name__)
            return
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def run(self, bus: LiveBus) -> None:
        """Take every message on `TOPIC` until cancelled."""
        with bus.subscribe(TOPIC) as messages:
            async for payload in messages:
                try:
                    self.take(payload)
                except Exception as exc:  # one odd message must not end the listening
                    log.warning("live.bad_message", topic=TOPIC, error=type(exc).__name__)

    async def wait_change(self, max_wait: float) -> None:
        """Wait until another node says something, at most MAX_WAIT seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max_wait)
        except TimeoutError:
            return

    def _fresh(self, heard: dict[Any, _Heard]) -> dict[Any, dict[str, Any]]:
        now = self._wall()
        for key in [k for k, h in heard.items() if now - h.at > TIMEOUT]:
            del heard[key]
        return {key: h.value for key, h in heard.items()}

    def nodes(self) -> list[dict[str, Any]]:
        """Return the other nodes heard of lately (name, URL)."""
        return sorted(self._fresh(self._nodes).values(), key=lambda n: str(n["node"]))

    def has_others(self) -> bool:
        """Tell whether another node was heard of lately."""
        return bool(self._fresh(self._nodes))

    def agents(self, only: Sequence[str] | None) -> list[dict[str, Any]]:
        """Return the other nodes' agent rows in the page's form, in departments ONLY."""
        now = self._wall()
        rows = []
        for row in self._fresh(self._agents).values():
            homes = [d for d in row["departments"] if only is None or d in only]
            if only is not None and not homes:
                continue
            out = {k: v for k, v in row.items() if k not in ("since_at", "transfer")}
            out["departments"] = homes
            out["in_state_s"] = int(max(now - row["since_at"], 0))
            if row["call"] is not None:
                call = {k: v for k, v in row["call"].items() if k != "connected_at"}
                call["duration_s"] = int(max(now - row["call"]["connected_at"], 0))
                out["call"] = call
            rows.append(out)
        return rows

    def queues(self) -> list[dict[str, Any]]:
        """Return the other nodes' queues (department, waiting, oldest_at)."""
        return list(self._fresh(self._queues).values())

    def waiting(self) -> dict[str, tuple[int, float]]:
        """Return, per department, the callers waiting on the other nodes and the longest of
        their waits in seconds (departments with nobody waiting left out)."""
        now = self._wall()
        found: dict[str, tuple[int, float]] = {}
        for queue in self.queues():
            if not queue["waiting"]:
                continue
            department = str(queue["department"])
            count, longest = found.get(department, (0, 0.0))
            wait = max(now - float(queue["oldest_at"]), 0.0)
            found[department] = (count + int(queue["waiting"]), max(longest, wait))
        return found

    def node_of_agent(self, endpoint: str) -> dict[str, Any] | None:
        """Return the node (name, URL) whose board has ENDPOINT online, if another node's."""
        for row in self.agents(None):
            if row["endpoint"] == endpoint and row["state"] != "offline":
                return next((n for n in self.nodes() if n["node"] == row["node"]), None)
        return None

    def home_of_agent(self, endpoint: str) -> dict[str, Any] | None:
        """Return the node (name, URL) that rings ENDPOINT: the one where it is online, else
        the first (by name) whose rules list it (offline there: the agent's softphone has not
        registered yet), if another node's."""
        found = self.node_of_agent(endpoint)
        if found is not None:
            return found
        homes = sorted(str(r["node"]) for r in self.agents(None) if r["endpoint"] == endpoint)
        return next((n for n in self.nodes() if homes and n["node"] == homes[0]), None)

    def agent(self, endpoint: str) -> dict[str, Any] | None:
        """Return another node's row of ENDPOINT (online there), in the page's form."""
        rows = [r for r in self.agents(None) if r["endpoint"] == endpoint]
        return next((r for r in rows if r["state"] != "offline"), None)

    def transfer(self, endpoint: str) -> dict[str, Any] | None:
        """Return the transfer state of ENDPOINT's call as the node that rings them last said
        it (None: no call, or no node rings them)."""
        for row in self._fresh(self._agents).values():
            if row["endpoint"] == endpoint and row["state"] != "offline":
                transfer = row.get("transfer")
                return transfer if isinstance(transfer, dict) else None
        return None

    def node_of_call(self, call_id: str) -> dict[str, Any] | None:
        """Return the node (name, URL) whose agent is on CALL_ID, if another node's."""
        for row in self.agents(None):
            if row["call"] is not None and row["call"]["call_id"] == call_id:
                return next((n for n in self.nodes() if n["node"] == row["node"]), None)
        return None

    def node_of_session(self, session_id: str) -> dict[str, Any] | None:
        """Return the node (name, URL) running monitor session SESSION_ID, if another node."""
        for row in self.agents(None):
            monitor = (row["call"] or {}).get("monitor")
            if isinstance(monitor, dict) and monitor.get("id") == session_id:
                return next((n for n in self.nodes() if n["node"] == row["node"]), None)
        return None


def shown_once(rows: Sequence[Mapping[str, Any]], node: str) -> list[dict[str, Any]]:
    """Return ROWS (each naming its node; this NODE's first) with an agent known to several
    nodes (every node knows the agents of its rules) kept where its phone is not offline, and
    offline everywhere, once; by name, endpoint and node."""
    online = {row["endpoint"] for row in rows if row["state"] != "offline"}
    shown, offline_seen = [], set()
    for row in sorted(rows, key=lambda r: (r["node"] != node, r["node"])):
        if row["state"] == "offline":
            if row["endpoint"] in online or row["endpoint"] in offline_seen:
                continue
            offline_seen.add(row["endpoint"])
        shown.append(dict(row))
    shown.sort(key=lambda r: (r["name"], r["endpoint"], r["node"]))
    return shown


def merged(
    own: Mapping[str, Any], node: str, live: LiveNodes, only: Sequence[str] | None
) -> dict[str, Any]:
    """Return this NODE's snapshot OWN joined with the other nodes' agents and queues.

    Each agent row says its node. An agent known to several nodes (every node knows the agents
    of the rules) is shown where its phone is not offline; offline everywhere, once.
    """
    rows = [{**row, "node": node} for row in own["agents"]] + live.agents(only)
    shown = shown_once(rows, node)
    queues = {q["department"]: dict(q) for q in own["queues"]}
    for department, (count, longest) in live.waiting().items():
        mine = queues.get(department)
        if mine is None:
            continue  # a department out of scope (or not in this node's rules)
        mine["waiting"] += count
        mine["longest_wait_s"] = max(mine["longest_wait_s"], int(longest))
    nodes = [{"node": node, "here": True}] + [{**n, "here": False} for n in live.nodes()]
    return {"agents": shown, "queues": list(queues.values()), "nodes": nodes}
