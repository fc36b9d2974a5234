"""A daemon killed while it places a callback: the restarted daemon places it again once the
killed one's lease ran out (a real `zentrale run` process on the sandbox, SIGKILL, real clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from zentrale.calls.models import Call, Outcome
from zentrale.customers import wrapup
from zentrale.customers.models import Callback, CallbackState
from zentrale.db.session import Database
from zentrale.ops.process import DaemonProcess, DaemonSpec
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party

from .test_service import RULES

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
CALLER = "+905551112233"
AGENT = "Local/S1@sim-agent/n"
CALLBACKS = {
    "hours": "00:00-24:00",  # the real clock: always within the calling hours
    "days": "mon-sun",
    "check_every": 0.3,
    "lease": 3,
    "retries": 2,
}


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


async def test_a_callback_being_placed_when_the_daemon_is_killed_is_placed_by_the_restarted_one(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    spec = DaemonSpec(
        tmp_path / "home", asterisk.ari, RULES, sections={"agents": {"callbacks": CALLBACKS}}
    )
    daemon = DaemonProcess(spec)
    daemon.start()
    try:
        await asyncio.to_thread(daemon.wait_ready)
        async with Database.open(f"sqlite+aiosqlite:///{spec.home}/z.db") as db:

            async def rows() -> list[Call]:
                async with db.read() as session:
                    return list(await session.scalars(select(Call).order_by(Call.arrived_at)))

            async def callback() -> Callback:
                async with db.read() as session:
                    (row,) = await session.scalars(select(Callback))
                    return row

            await script_party(asterisk.ari, "agent", "S1", PartyScript(answer_after=0.5))
            await place_call(
                asterisk.ari,
                caller=CALLER,
                script=CustomerScript(digits="1", digit_delay=0.5, talk=2),
            )

            async def taken() -> bool:
                calls = await rows()
                return len(calls) == 1 and calls[0].ended_at is not None

            assert await _until(taken, 40), daemon.text()[-3000:]
            (call,) = await rows()
            assert call.agent_endpoint == AGENT
            # the first attempt: the agent's phone rings and nobody answers it
            await script_party(asterisk.ari, "agent", "S1", PartyScript(mode="noanswer"))
            async with db.write() as session:
                at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
                wrap = wrapup.WrapUp(callback_at=at)
                await wrapup.save(session, call, wrap, ("u1", "Sam"), dt.datetime.now(dt.UTC))

            async def calling() -> bool:
                return (await callback()).state is CallbackState.CALLING

            assert await _until(calling, 20), daemon.text()[-3000:]
            first = await callback()
            assert first.locked_by is not None
            assert first.locked_by.startswith("node1:")
            daemon.signal(signal.SIGKILL)
            assert await asyncio.to_thread(daemon.wait, 10) == -signal.SIGKILL
            daemon.stop(5)
            assert (await callback()).state is CallbackState.CALLING  # left by the dead daemon

            await script_party(asterisk.ari, "agent", "S1", PartyScript(answer_after=0.5))
            await script_party(
                asterisk.ari, "number", CALLER, PartyScript(answer_after=1, talk=2, then="hangup")
            )
            daemon.start()
            await asyncio.to_thread(daemon.wait_ready)

            async def done() -> bool:
                return (await callback()).state is CallbackState.DONE

            assert await _until(done, 60), daemon.text()[-3000:]
            row = await callback()
            assert (row.result, row.attempts, row.locked_by) == ("answered", 2, None)
            assert daemon.events("callback.recovered"), daemon.text()[-3000:]

            async def placed_ended() -> bool:
                return any(c.id == row.placed_call_id and c.ended_at for c in await rows())

            assert await _until(placed_ended, 30), daemon.text()[-3000:]
            again = next(c for c in await rows() if c.id == row.placed_call_id)
            assert (again.outcome, again.agent_endpoint, again.called_number) == (
                Outcome.ANSWERED,
                AGENT,
                CALLER,
            )
    finally:
        await asyncio.to_thread(daemon.stop, 30)
