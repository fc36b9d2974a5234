"""The call centre's own wiring (fake ARI server, stand-in calls): an agent's hold during an
attended transfer's consultation leaves the waiting caller alone, and agents added by a rules
reload have their presence read."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from zentrale.calls.models import EventKind
from zentrale.telephony.ari import AriClient, AriOptions
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.callcenter import CallCenter
from zentrale.telephony.transfer import Phase, TransferState
from zentrale.testing.fake_ari import FakeAri

pytestmark = pytest.mark.asyncio
FAST = AriOptions(retry_attempts=1, retry_backoff=0.01, backoff_initial=0.05)


class Timeline:
    def __init__(self) -> None:
        self.events: list[tuple[str, EventKind]] = []

    def event(self, call_id: str, kind: EventKind, _detail: Any = None) -> None:
        self.events.append((call_id, kind))


def _center(ari: AriClient, timeline: Timeline, rules: Any = None) -> CallCenter:
    queues = SimpleNamespace(board=AgentBoard())
    services = SimpleNamespace(ari=ari, journal=timeline, queues=queues)
    return CallCenter(services, lambda: rules)  # type: ignore[arg-type]


def _inbound(call_id: str, phase: Phase) -> Any:
    return SimpleNamespace(
        id=call_id,
        call=SimpleNamespace(id=f"cust-{call_id}"),
        agent_leg=f"agent-{call_id}",
        transfer=TransferState(phase=phase),
        conversation=None,  # not bridged yet: the music goes on the caller's channel
    )


async def test_the_agents_hold_in_a_consultation_does_not_touch_the_waiting_caller() -> None:
    timeline = Timeline()
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        center = _center(ari, timeline)
        center.active = {
            "c1": _inbound("c1", Phase.CONSULTING),
            "c2": _inbound("c2", Phase.TALKING),
        }
        fake.emit("ChannelUnhold", channel=fake.add_channel("agent-c1"))
        fake.add_channel("cust-c2")
        fake.emit("ChannelHold", channel=fake.add_channel("agent-c2"))
        async with asyncio.timeout(5):
            while not timeline.events:  # noqa: ASYNC110 - filled by the ARI handler
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
    assert timeline.events == [("c2", EventKind.HOLD)]
    moh = [r.path for r in fake.requests if r.path.endswith("/moh")]
    assert moh == ["/channels/cust-c2/moh"]  # only the talking call's caller


async def test_agents_new_in_reloaded_rules_have_their_presence_read() -> None:
    department = SimpleNamespace(agents=[SimpleNamespace(endpoint="PJSIP/1", name="One")])
    rules = SimpleNamespace(document=SimpleNamespace(departments={"sales": department}))
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        center = _center(ari, Timeline(), rules)
        asked: list[list[str]] = []

        async def refresh(endpoints: list[str]) -> None:
            asked.append(list(endpoints))

        center.presence.refresh = refresh  # type: ignore[method-assign]
        center.reload_agents(rules)  # type: ignore[arg-type]
        center.reload_agents(rules)  # type: ignore[arg-type]  # nobody new: nothing to read
        await asyncio.sleep(0)
    assert asked == [["PJSIP/1"]]
