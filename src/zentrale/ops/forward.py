"""Several nodes: a request for another node's agent or call, carried there over the live bus.

A node that is asked to act on an agent or a call another node carries (`ops.live` says which)
sends a `Request` (its id, the target node, the kind: the route's name, who asks, a small JSON
payload) on the target node's channel (`channel_of`), and waits up to a timeout for the `Reply`
(status and JSON body) on its own channel; no reply in time is a `NodeUnreachableError`
(`node-unreachable`, naming the node). The owning node routes each request to the handler of
its kind (`Forwarder.answer`); the handler authorises the user named in the request afresh
against the shared database and audits as for a request of its own (`api.forwarding`).

Both directions must fit the bus's payload (`db.bus.MAX_PAYLOAD`): a larger request is refused
before it is sent (`forward-too-large`), a larger reply is answered with that error instead.

Every message is signed (HMAC-SHA256, `sig`) with a key the nodes share (`forward_key`: derived
from `api.session_secret`, which nodes behind one load balancer share anyway): anyone else who
can `NOTIFY` on the database cannot make a node act for a user, nor answer in its name (and
on PostgreSQL the bus also seals every payload, `db.bus.seal`). A
request also carries when it was sent; one older than MAX_AGE seconds (or as much ahead), or
one whose id this node has already taken, is dropped (a replayed message).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from zentrale.base.errors import BadRequestError, UnavailableError
from zentrale.db.bus import MAX_PAYLOAD, LiveBus

log = structlog.get_logger(__name__)

TIMEOUT = 5.0
"""Seconds a node waits for another node's reply before answering `node-unreachable`."""
MAX_AGE = 60.0
"""Seconds a request stays good after it was sent (the nodes' clocks differ by less)."""


def forward_key(session_secret: bytes) -> bytes:
    """Return the key that signs the bus's requests and replies, derived from the nodes'
    shared session secret (a key of its own: a session token is never a valid signature)."""
    return hmac.new(session_secret, b"zentrale forward v1", hashlib.sha256).digest()


class NodeUnreachableError(UnavailableError):
    """The node that carries the agent or call did not answer in time (HTTP 504)."""

    code = "node-unreachable"


class ForwardTooLargeError(BadRequestError):
    """A forwarded request does not fit the bus's payload limit."""

    code = "forward-too-large"


@dataclass(frozen=True, slots=True)
class Who:
    """Who asks: the user's id (the owning node loads and checks the user itself), how they
    signed in, and from where."""

    user_id: str
    via: Literal["token", "session"]
    address: str | None


@dataclass(frozen=True, slots=True)
class Request:
    """One request to another node."""

    id: str
    origin: str
    target: str
    kind: str
    who: Who
    payload: dict[str, Any]
    sent: float = 0.0
    """When it was sent (Unix seconds, the asking node's clock)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The owning node's answer: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Who, dict[str, Any]], Awaitable[Reply]]


def channel_of(node: str) -> str:
    """Return NODE's bus channel (a plain topic whatever the node's name)."""
    return "zentrale_fwd_" + hashlib.sha256(node.encode()).hexdigest()[:24]


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _signature(key: bytes, message: dict[str, Any]) -> str:
    canonical = json.dumps(message, separators=(",", ":"), sort_keys=True)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _signed(key: bytes, message: dict[str, Any]) -> str:
    return _text({**message, "sig": _signature(key, message)})


def encode_request(request: Request, key: bytes) -> str:
    """Return REQUEST as a signed bus message, or raise ForwardTooLargeError."""
    text = _signed(
        key,
        {
            "t": "req",
            "id": request.id,
            "from": request.origin,
            "to": request.target,
            "kind": request.kind,
            "sent": request.sent,
            "who": {
                "user": request.who.user_id,
                "via": request.who.via,
                "address": request.who.address,
            },
            "payload": request.payload,
        },
    )
    size = len(text.encode())
    if size > MAX_PAYLOAD:
        raise ForwardTooLargeError(
            f"request {request.kind} for node {request.target}: {size} bytes, "
            f"at most {MAX_PAYLOAD} cross the bus"
        )
    return text


def encode_reply(request_id: str, reply: Reply, key: bytes) -> str:
    """Return REPLY to request REQUEST_ID as a signed bus message (an error if it does not
    fit)."""
    text = _signed(key, {"t": "rep", "id": request_id, "status": reply.status, "body": reply.body})
    if len(text.encode()) <= MAX_PAYLOAD:
        return text
    error = {"code": ForwardTooLargeError.code, "message": "the node's answer is too large"}
    return _signed(key, {"t": "rep", "id": request_id, "status": 502, "body": {"error": error}})


def decode(text: str, key: bytes) -> Request | tuple[str, Reply]:
    """Return the request, or (request id, reply), in TEXT; raise ValueError when malformed or
    not signed with KEY."""
    try:
        message = json.loads(text)
        if not isinstance(message, dict):
            raise TypeError("message")
        signature = message.pop("sig")
        if not isinstance(signature, str) or not hmac.compare_digest(
            signature, _signature(key, message)
        ):
            raise ValueError("bad signature")
        if message["t"] == "rep":
            body = message["body"]
            if not isinstance(body, dict):
                raise TypeError("body")
            return str(message["id"]), Reply(int(message["status"]), body)
        if message["t"] != "req":
            raise ValueError(f"message type {message['t']!r}")
        who, payload = message["who"], message["payload"]
        via = who["via"]
        if via not in ("token", "session") or not isinstance(payload, dict):
            raise ValueError("who.via or payload")
        address = who["address"]
        return Request(
            id=str(message["id"]),
            origin=str(message["from"]),
            target=str(message["to"]),
            kind=str(message["kind"]),
            who=Who(str(who["user"]), via, None if address is None else str(address)),
            payload=payload,
            sent=float(message["sent"]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a forwarded request or reply: {type(exc).__name__}") from exc


def unknown(kind: str) -> Reply:
    """Return the reply to a request of a kind this node does not handle."""
    error = {"code": "forward-unknown", "message": f"this node does not take {kind!r} requests"}
    return Reply(404, {"error": error})


class Forwarder:
    """Sends requests to other nodes and answers theirs, on the live bus."""

    def __init__(
        self,
        bus: LiveBus,
        node: str,
        key: bytes,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bus, self.node, self._key, self._new_id, self._clock = bus, node, key, new_id, clock
        self._taken: dict[str, float] = {}
        """Ids of the requests taken in the last MAX_AGE seconds (a replay is dropped)."""
        self.handlers: dict[str, Handler] = {}
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, kind: str, handler: Handler) -> None:
        """Answer requests of KIND with HANDLER."""
        self.handlers[kind] = handler

    async def ask(
        self, node: str, kind: str, who: Who, payload: dict[str, Any], seconds: float = TIMEOUT
    ) -> Reply:
        """Send a request of KIND to NODE and return its reply (NodeUnreachableError after
        SECONDS)."""
        request = Request(self._new_id(), self.node, node, kind, who, payload, self._clock())
        text = encode_request(request, self._key)
        waiting: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = waiting
        try:
            await self._bus.publish(channel_of(node), text)
            return await asyncio.wait_for(waiting, seconds)
        except TimeoutError:
            raise NodeUnreachableError(
                f"node {node} did not answer within {seconds:g} s; it may still carry the "
                f"request out: check the state before asking again"
            ) from None
        finally:
            self._waiting.pop(request.id, None)

    async def answer(self, request: Request) -> Reply:
        """Return the reply of REQUEST's handler (any failure of it: 500)."""
        handler = self.handlers.get(request.kind)
        if handler is None:
            return unknown(request.kind)
        try:
            return await handler(request.who, request.payload)
        except Exception:
            log.exception("forward.failed", kind=request.kind, origin=request.origin)
            error = {"code": "internal-error", "message": "the node failed to carry it out"}
            return Reply(500, {"error": error})

    def take(self, text: str) -> Request | None:
        """Note one message on this node's channel: resolve a reply, return a request to answer."""
        try:
            message = decode(text, self._key)
        except ValueError as exc:
            log.warning("forward.bad_message", error=str(exc))
            return None
        if isinstance(message, Request):
            return self._fresh(message) if message.target == self.node else None
        request_id, reply = message
        waiting = self._waiting.get(request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(reply)
        return None

    def _fresh(self, request: Request) -> Request | None:
        """Return REQUEST unless it is stale, from the future or already taken."""
        now = self._clock()
        for seen, at in list(self._taken.items()):
            if now - at > MAX_AGE:
                del self._taken[seen]
        if abs(now - request.sent) > MAX_AGE or request.id in self._taken:
            log.warning("forward.stale_or_replayed", kind=request.kind, origin=request.origin)
            return None
        self._taken[request.id] = now
        return request

    async def _answer_and_send(self, request: Request) -> None:
        reply = await self.answer(request)
        try:
            text = encode_reply(request.id, reply, self._key)
            await self._bus.publish(channel_of(request.origin), text)
        except Exception as exc:  # the asking node times out and says so
            log.warning("forward.reply_not_sent", kind=request.kind, error=type(exc).__name__)

    async def run(self) -> None:
        """Take every message on this node's channel until cancelled (answering requests in
        tasks of their own, so a slow one holds up no other)."""
        with self._bus.subscribe(channel_of(self.node)) as messages:
            try:
                async for text in messages:
                    request = self.take(text)
                    if request is not None:
                        task = asyncio.create_task(self._answer_and_send(request))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
            finally:
                for task in list(self._tasks):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
