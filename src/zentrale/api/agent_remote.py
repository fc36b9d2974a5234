"""The agent's event stream on a node that does not ring the agent (several nodes).

The node that rings the agent sends their state (`ops.live` rows, with the transfer state of
their call) and the screen pop of each call about to ring them over the live bus; here they
reach the agent's workspace stream in the same events (`state`, `transfer`, `ringing`) as on
the agent's own node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request

from zentrale.ops.live import LiveNodes
from zentrale.telephony.screenpop import Pop

Enrich = Callable[[Pop], Awaitable[dict[str, Any]]]


def remote_state(live: LiveNodes, endpoint: str, reasons: list[str]) -> dict[str, Any]:
    """Return ENDPOINT's state as another node last said it (offline when no node does), and
    the node that rings it (where it is online, else one whose rules list it)."""
    row = live.agent(endpoint)
    state = row["state"] if row is not None else "offline"
    reason = row["reason"] if row is not None and state == "paused" else None
    home = row if row is not None else live.home_of_agent(endpoint)
    node = home["node"] if home is not None else None
    return {
        "endpoint": endpoint,
        "state": state,
        "reason": reason,
        "reasons": reasons,
        "node": node,
    }


async def remote_events(
    request: Request,
    live: LiveNodes,
    endpoint: str,
    reasons: list[str],
    enrich: Enrich,
    *,
    seconds: float,
    tick: float,
) -> AsyncIterator[str]:
    """Stream ENDPOINT's state and pops heard from another node, for SECONDS."""
    yield "retry: 1000\n\n"
    with live.pops.follow(endpoint) as queue:
        last, moved, until = "", "", time.monotonic() + seconds
        while time.monotonic() < until and not await request.is_disconnected():
            state = json.dumps(remote_state(live, endpoint, reasons), separators=(",", ":"))
            if state != last:
                last = state
                yield f"event: state\ndata: {state}\n\n"
            transfer = json.dumps(live.transfer(endpoint), separators=(",", ":"))
            if transfer != moved:
                moved = transfer
                yield f"event: transfer\ndata: {transfer}\n\n"
            pop = await next_pop(queue, live.wait_change, tick)
            if pop is not None and live.agent(endpoint) is not None:
                body = json.dumps(await enrich(pop), separators=(",", ":"))
                yield f"event: ringing\ndata: {body}\n\n"


async def next_pop(
    queue: asyncio.Queue[Pop], changed: Callable[[float], Awaitable[object]], tick: float
) -> Pop | None:
    """Return the next pop, or None when CHANGED (a board, the other nodes) or a tick came first."""
    popped = asyncio.ensure_future(queue.get())
    change = asyncio.ensure_future(changed(tick))
    try:
        done, _ = await asyncio.wait({popped, change}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when the stream is cancelled (the browser left): no task left pending
        for task in (popped, change):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return popped.result() if popped in done else None
