"""The agent event stream's wait for the next screen pop or change (api.agent_remote.next_pop)."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.api.agent_remote import next_pop

pytestmark = pytest.mark.asyncio


async def test_a_stream_cancelled_while_waiting_leaves_no_task_behind() -> None:
    queue: asyncio.Queue[object] = asyncio.Queue()
    waited = asyncio.Event()

    async def changed(_seconds: float) -> None:
        waited.set()
        await asyncio.sleep(3600)

    before = asyncio.all_tasks()
    stream = asyncio.create_task(next_pop(queue, changed, 3600))  # type: ignore[arg-type]
    await waited.wait()
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream
    assert asyncio.all_tasks() == before  # neither the queue's get nor the wait is pending
    queue.put_nowait("pop")
    assert queue.qsize() == 1  # and no forgotten getter took the next pop


async def test_the_first_of_a_pop_and_a_change_wins() -> None:
    queue: asyncio.Queue[object] = asyncio.Queue()
    queue.put_nowait("pop")
    assert await next_pop(queue, asyncio.sleep, 3600) == "pop"  # type: ignore[arg-type]
    assert await next_pop(queue, asyncio.sleep, 0) is None  # type: ignore[arg-type]
