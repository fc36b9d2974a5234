"""The live wallboard inside the daemon: the page, a JSON snapshot and a server-sent event stream.

Like the live-call routes, these exist only in the daemon, which holds the queues and the
agent board; `wallboard_routers(board, deps)` binds them to each request. Supervisors see their
departments, administrators all. The event stream sends the board whenever it changes (checked
every second and on every agent change) and ends after `STREAM_SECONDS`, so a stopping daemon
is never held up; the browser's EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from zentrale.api.auth import Caller
from zentrale.api.deps import Deps
from zentrale.api.web.render import language, render
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.stats.texts import TEXTS
from zentrale.stats.wallboard import Wallboard

router = APIRouter(include_in_schema=False)
STREAM_SECONDS = 15.0
TICK_SECONDS = 1.0


def board_of(request: Request) -> Wallboard:
    """Return the wallboard the daemon bound to this request."""
    board: Wallboard = request.state.wallboard
    return board


def _scope(caller: Principal) -> Sequence[str] | None:
    return None if caller.role is Role.ADMIN else tuple(caller.departments)


@router.get("/wallboard", name="web.wallboard")
async def wallboard_page(caller: Caller, request: Request) -> Response:
    """The wallboard page; its script follows the event stream."""
    snapshot = board_of(request).snapshot(_scope(caller))
    return render(
        request, "wallboard.html", caller=caller, board=snapshot, st=TEXTS[language(request)]
    )


@router.get("/api/wallboard", name="wallboard.show")
async def wallboard_json(caller: Caller, request: Request) -> dict[str, Any]:
    """Return the live board now."""
    return board_of(request).snapshot(_scope(caller))


@router.get("/api/wallboard/events", name="wallboard.events")
async def wallboard_events(caller: Caller, request: Request) -> StreamingResponse:
    """Stream the board as server-sent events (`data: {json}`), one whenever it changes."""
    stream = _events(request, board_of(request), _scope(caller))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _events(
    request: Request, board: Wallboard, scope: Sequence[str] | None
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    last, until = "", time.monotonic() + STREAM_SECONDS
    while time.monotonic() < until and not await request.is_disconnected():
        text = json.dumps(board.snapshot(scope), separators=(",", ":"))
        if text != last:
            last = text
            yield f"data: {text}\n\n"
        await _changed_or_tick(board)


async def _changed_or_tick(board: Wallboard) -> None:
    await asyncio.wait_for(board.queues.board.wait_change(TICK_SECONDS), TICK_SECONDS * 2)


def wallboard_routers(board: Wallboard, deps: Deps) -> list[APIRouter]:
    """Return the wallboard routes, binding BOARD (and the QA service's DEPS) to each request."""
    outer = APIRouter(dependencies=[Depends(_binder(board, deps))])
    outer.include_router(router)
    return [outer]


def _binder(board: Wallboard, deps: Deps) -> Callable[[Request], Awaitable[None]]:
    async def bind(request: Request) -> None:
        request.state.wallboard = board
        request.state.qa = deps

    return bind
