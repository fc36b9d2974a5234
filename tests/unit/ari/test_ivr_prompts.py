"""Menus on a channel against the fake ARI: barge-in and what a cancelled prompt leaves."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.telephony.ari import AriClient, Call
from zentrale.telephony.ivr import play_interruptible
from zentrale.testing.fake_ari import FakeAri

from .conftest import eventually


@pytest.mark.asyncio
async def test_a_key_stops_the_prompt_and_is_returned(fake: FakeAri, ari: AriClient) -> None:
    fake.playback_seconds = 60
    keys: list[str | None] = []

    async def flow(call: Call) -> None:
        keys.append(await play_interruptible(call, "sound:long", max_wait=30))

    ari.on_new_channel(flow)
    channel_id = fake.start_call()
    await eventually(lambda: any("/play/" in r.path for r in fake.requests))
    fake.press(channel_id, "7")
    await eventually(lambda: keys == ["7"])
    assert any(r.method == "DELETE" and r.path.startswith("/playbacks/") for r in fake.requests)


@pytest.mark.asyncio
async def test_a_cancelled_prompt_leaves_no_task_behind(fake: FakeAri, ari: AriClient) -> None:
    """The daemon stopping cancels flows in a menu: the prompt's tasks end with them.

    They were left running once (the demo's run in CI logged a play task failing with
    'ARI client closed' after the daemon stopped); the task guard fails on any left.
    """
    fake.playback_seconds = 60
    started = asyncio.Event()
    flows: list[asyncio.Task[str | None]] = []

    async def flow(call: Call) -> None:
        flows.append(asyncio.ensure_future(play_interruptible(call, "sound:long", max_wait=30)))
        started.set()

    ari.on_new_channel(flow)
    fake.start_call()
    await asyncio.wait_for(started.wait(), 5)
    await eventually(lambda: any("/play/" in r.path for r in fake.requests))
    flows[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await flows[0]
    for _ in range(5):
        await asyncio.sleep(0)
    left = {_name(task) for task in asyncio.all_tasks()} & {"Call.play", "_digit"}
    assert not left, f"left running: {left}"


def _name(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", ""))
