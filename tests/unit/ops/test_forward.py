"""Requests forwarded to another node over the live bus: the messages, their routing, replies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from zentrale.db.bus import MAX_PAYLOAD, TOPIC, LocalBus
from zentrale.ops.forward import (
    MAX_AGE,
    Forwarder,
    ForwardTooLargeError,
    NodeUnreachableError,
    Reply,
    Request,
    Who,
    channel_of,
    decode,
    encode_reply,
    encode_request,
    forward_key,
)
from zentrale.ops.live import LiveNodes

WHO = Who("u1", "session", "10.0.0.7")
KEY = forward_key(b"the cluster's session secret")


def _request(payload: dict[str, Any] | None = None) -> Request:
    return Request("r1", "node-a", "node-b", "agent.set_state", WHO, payload or {"state": "paused"})


def test_a_request_and_a_reply_survive_the_wire_unchanged() -> None:
    request = _request({"state": "paused", "reason": "break"})
    assert decode(encode_request(request, KEY), KEY) == request
    reply = Reply(409, {"error": {"code": "not-recording", "message": "no"}})
    assert decode(encode_reply("r1", reply, KEY), KEY) == ("r1", reply)


def test_a_request_over_the_bus_limit_is_refused_before_it_is_sent() -> None:
    with pytest.raises(ForwardTooLargeError, match=r"for node node-b: \d+ bytes, at most"):
        encode_request(_request({"text": "x" * MAX_PAYLOAD}), KEY)


def test_a_reply_over_the_bus_limit_becomes_an_error_reply_that_fits() -> None:
    text = encode_reply("r1", Reply(200, {"text": "x" * MAX_PAYLOAD}), KEY)
    assert len(text.encode()) <= MAX_PAYLOAD
    request_id, reply = decode(text, KEY)  # type: ignore[misc]
    assert (request_id, reply.status) == ("r1", 502)
    assert reply.body["error"]["code"] == "forward-too-large"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"t": "req", "id": "r1"}',
        '{"t": "rep", "id": "r1", "status": 200, "body": []}',
        '{"t": "what", "id": "r1"}',
    ],
)
def test_malformed_messages_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"request or reply|message type"):
        decode(text, KEY)


def test_a_request_naming_a_role_cannot_smuggle_it_in_only_the_user_id_travels() -> None:
    message = json.loads(encode_request(_request(), KEY))
    assert "role" not in message["who"]  # no role field exists to carry: the owning node loads it
    message["who"]["role"] = "admin"
    with pytest.raises(ValueError, match="bad signature"):  # and none can be added on the way
        decode(json.dumps(message), KEY)


def test_a_message_signed_with_another_key_or_changed_on_the_way_is_refused() -> None:
    other = forward_key(b"someone else's secret")
    with pytest.raises(ValueError, match="bad signature"):
        decode(encode_request(_request(), other), KEY)
    with pytest.raises(ValueError, match="bad signature"):
        decode(encode_reply("r1", Reply(200, {}), other), KEY)
    message = json.loads(encode_request(_request(), KEY))
    message["who"]["user"] = "the-admins-id"
    with pytest.raises(ValueError, match="bad signature"):
        decode(json.dumps(message), KEY)
    del message["sig"]
    with pytest.raises(ValueError, match="request or reply"):
        decode(json.dumps(message), KEY)


def test_a_stale_a_future_or_a_replayed_request_is_dropped() -> None:
    now = [1000.0]
    a = Forwarder(LocalBus(), "node-a", KEY, clock=lambda: now[0])

    def sent(request_id: str, at: float) -> str:
        request = Request(request_id, "node-b", "node-a", "agent.state", WHO, {}, at)
        return encode_request(request, KEY)

    assert a.take(sent("old", 1000.0 - MAX_AGE - 1)) is None
    assert a.take(sent("ahead", 1000.0 + MAX_AGE + 1)) is None
    fresh = sent("r9", 995.0)
    assert a.take(fresh) is not None
    assert a.take(fresh) is None  # the same message again
    now[0] += MAX_AGE + 10
    assert a.take(sent("r10", now[0])) is not None  # what was taken long ago is forgotten
    assert "r9" not in a._taken


def test_each_node_has_its_own_plain_channel() -> None:
    a, b = channel_of("node-a"), channel_of("node-b")
    assert a != b
    assert a == channel_of("node-a")
    assert TOPIC.match(a)
    assert TOPIC.match(channel_of("Ünïcode node / 7" * 10))


@pytest.mark.asyncio
async def test_a_request_reaches_the_handler_of_its_kind_on_the_target_node_only() -> None:
    bus = LocalBus()
    a, b, c = (
        Forwarder(bus, "node-a", KEY),
        Forwarder(bus, "node-b", KEY),
        Forwarder(bus, "node-c", KEY),
    )
    calls: list[tuple[str, Who, dict[str, Any]]] = []

    def handler(node: str) -> Any:
        async def handle(who: Who, payload: dict[str, Any]) -> Reply:
            calls.append((node, who, payload))
            return Reply(200, {"done": payload["n"]})

        return handle

    b.handle("agent.state", handler("node-b"))
    c.handle("agent.state", handler("node-c"))
    tasks = [asyncio.create_task(f.run()) for f in (a, b, c)]
    await asyncio.sleep(0)  # each subscribes to its channel
    try:
        assert await a.ask("node-b", "agent.state", WHO, {"n": 1}) == Reply(200, {"done": 1})
        assert calls == [("node-b", WHO, {"n": 1})]
        unknown = await a.ask("node-b", "agent.nothing", WHO, {})
        assert (unknown.status, unknown.body["error"]["code"]) == (404, "forward-unknown")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_failing_handler_answers_500_and_the_node_keeps_answering() -> None:
    bus = LocalBus()
    a, b = Forwarder(bus, "node-a", KEY), Forwarder(bus, "node-b", KEY)

    async def broken(_who: Who, payload: dict[str, Any]) -> Reply:
        if payload["fail"]:
            raise RuntimeError("boom")
        return Reply(201, {})

    b.handle("supervise.monitor", broken)
    tasks = [asyncio.create_task(f.run()) for f in (a, b)]
    await asyncio.sleep(0)
    try:
        failed = await a.ask("node-b", "supervise.monitor", WHO, {"fail": True})
        assert (failed.status, failed.body["error"]["code"]) == (500, "internal-error")
        assert await a.ask("node-b", "supervise.monitor", WHO, {"fail": False}) == Reply(201, {})
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_no_answer_from_the_node_is_node_unreachable_naming_it() -> None:
    bus = LocalBus()
    a = Forwarder(bus, "node-a", KEY)
    task = asyncio.create_task(a.run())
    await asyncio.sleep(0)
    try:
        with pytest.raises(NodeUnreachableError, match="node node-z did not answer within"):
            await a.ask("node-z", "agent.state", WHO, {}, seconds=0.01)
        assert NodeUnreachableError.code == "node-unreachable"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_stray_reply_or_a_request_for_another_node_is_ignored() -> None:
    a = Forwarder(LocalBus(), "node-a", KEY, clock=lambda: 1000.0)
    assert a.take(encode_reply("nobody-waits", Reply(200, {}), KEY)) is None
    assert a.take(encode_request(_request(), KEY)) is None  # for node-b
    assert a.take("garbage") is None
    mine = Request("r2", "node-b", "node-a", "agent.state", WHO, {}, 1000.0)
    assert a.take(encode_request(mine, KEY)) == mine


def test_the_node_running_a_monitor_session_is_found_in_its_live_rows() -> None:
    live = LiveNodes("node-a", lambda: 100.0)
    call = {"call_id": "c" * 32, "connected_at": 95, "monitor": {"id": "5e55" * 4}}
    row = {"endpoint": "PJSIP/9", "state": "on_call", "departments": [], "call": call}
    message = {"node": "node-b", "url": "http://b:8800", "queues": []}
    live.take(json.dumps({**message, "agents": [{**row, "since_at": 90}]}))
    assert live.node_of_session("5e55" * 4) == {"node": "node-b", "url": "http://b:8800"}
    assert live.node_of_session("0" * 16) is None
