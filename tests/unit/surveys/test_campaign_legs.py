"""Handing answered campaign channels to their attempt (`Legs`), with a stand-in channel."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from zentrale.telephony.campaigns import Legs

pytestmark = pytest.mark.asyncio


@dataclass
class Channel:
    """Just what Legs uses of a Call: its id, Stasis arguments and hangup."""

    id: str
    args: list[str]
    hung_up: list[str] = field(default_factory=list)

    async def hangup(self) -> None:
        self.hung_up.append(self.id)


async def test_the_waiting_flow_runs_and_its_channel_counts_as_followed() -> None:
    legs, seen, release = Legs(), [], asyncio.Event()

    async def flow(call: Channel) -> None:
        seen.append((call.id, set(legs.active)))
        await release.wait()

    legs.expect("call-1", flow)  # type: ignore[arg-type]
    running = asyncio.create_task(legs.arrived(Channel("campaign-1", ["campaign", "call-1"])))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert seen == [("campaign-1", {"campaign-1"})]
    release.set()
    await running
    assert legs.active == set()


async def test_a_channel_nobody_waits_for_is_hung_up() -> None:
    legs = Legs()
    legs.expect("call-2", lambda call: asyncio.sleep(0))  # type: ignore[arg-type,return-value]
    legs.forget("call-2")  # not answered: the ringer gave up
    late = Channel("campaign-2", ["campaign", "call-2"])
    await legs.arrived(late)  # type: ignore[arg-type]
    stray = Channel("campaign-3", ["campaign"])
    await legs.arrived(stray)  # type: ignore[arg-type]
    assert (late.hung_up, stray.hung_up) == (["campaign-2"], ["campaign-3"])
