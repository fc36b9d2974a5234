"""The call centre: every channel that enters our ARI app goes through here.

Inbound callers (Stasis args `inbound,<DID>`) get an `InboundCall` on the rules live at that
moment; legs we originated ourselves (agents, outside numbers) are followed by whoever rang
them, so they need nothing here. After a reconnect, callers still waiting in Stasis start their
flow again and anything else of ours that lost its flow is hung up, so nothing is orphaned.
Active calls can be transferred and listed; outbound calls are placed from here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

import structlog

from zentrale.base.errors import ZentraleError
from zentrale.routing.rules import Rules
from zentrale.telephony.ari import AriClient, AriError, Call, ChannelGoneError
from zentrale.telephony.ari.models import Bridge, Channel
from zentrale.telephony.ari.primitives import wait_for_hangup
from zentrale.telephony.campaigns import LEG_KIND, Legs
from zentrale.telephony.context import Services
from zentrale.telephony.conversation import Conversation
from zentrale.telephony.hold import CallLegs, Holds
from zentrale.telephony.inbound import InboundCall, Transfer
from zentrale.telephony.monitor import Monitors
from zentrale.telephony.outbound import OutboundCall, OutboundResult
from zentrale.telephony.presence import Presence
from zentrale.telephony.transfer import NotOnCallError, Phase, Request, Target, resolve

log = structlog.get_logger(__name__)

OUR_LEGS = ("agent", "dialled", "outbound", "snoop", "monitor")
CONVERSATION_BRIDGE = re.compile(r"conv-([0-9a-f]+)-([0-9]+)")
"""Bridge ids of conversations (`Conversation.bridge_id`): the call id and its number."""
FALLBACK = "zentrale-fallback"
"""Dialplan context that answers callers zentrale does not take (see extensions.conf)."""


class CallNotActiveError(ZentraleError, LookupError):
    """No call with that id is in progress here."""

    code = "call-not-active"


class CallCenter:
    """Runs the flows of every call on this node."""

    def __init__(self, services: Services, rules: Callable[[], Rules]) -> None:
        self.services = services
        self._rules = rules
        self.presence = Presence(services.ari, services.queues.board)
        self.active: dict[str, InboundCall] = {}
        self.accepting = True
        self._outbound: set[asyncio.Task[None]] = set()
        self._refreshing: set[asyncio.Task[None]] = set()
        self.outgoing: dict[str, OutboundCall] = {}
        """Click-to-calls in progress here, by call id."""
        self.legs = Legs()
        self.adopted: set[str] = set()
        """Ids of calls taken over from a daemon that died (their rows stay open)."""
        self._quiet = asyncio.Event()
        self.monitors = Monitors(services.ari)
        """Supervisors listening to, whispering into or barging into agents' calls."""
        self.holds = Holds(services.ari, services.journal, self.talking)

    def _agent_endpoints(self) -> list[str]:
        departments = self._rules().document.departments.values()
        return [agent.endpoint for department in departments for agent in department.agents]

    def rules(self) -> Rules:
        """Return the rules live now."""
        return self._rules()

    def know_agents(self, rules: Rules) -> list[str]:
        """Put every agent of RULES on the board (so they can be paused before a call); return
        the endpoints new to it."""
        board = self.services.queues.board
        added = []
        for department in rules.document.departments.values():
            added += board.know((agent.endpoint, agent.name) for agent in department.agents)
        return added

    def reload_agents(self, rules: Rules) -> None:
        """Put RULES' agents on the board (reloaded rules) and read the new ones' presence."""
        added = self.know_agents(rules)
        if added:
            task = asyncio.ensure_future(self._refresh_presence(added))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def _refresh_presence(self, endpoints: list[str]) -> None:
        with contextlib.suppress(AriError):  # not connected: the next resync reads them
            await self.presence.refresh(endpoints)

    async def on_call(self, call: Call) -> None:
        """Run the flow of a channel that entered the app (a call flow for the ARI client)."""
        kind = call.args[0] if call.args else ""
        if kind == LEG_KIND:
            await self.legs.arrived(call)  # a campaign's number answered: its attempt takes it
            return
        if kind in OUR_LEGS:
            return  # rung by us: the ringer follows it
        if kind != "inbound":
            log.warning("call.refused", kind=kind or "(none)")
            await call.hangup()
            return
        if not self.accepting:
            # Draining: the dialplan's fallback takes the caller, as when no daemon runs.
            log.info("call.sent_to_fallback", channel_id=call.id)
            with contextlib.suppress(AriError):
                await self.services.ari.channels.continue_in_dialplan(call.id, FALLBACK)
            return
        await self._run_inbound(call)

    async def _run_inbound(self, call: Call) -> None:
        inbound = InboundCall(self.services, call, self._rules())
        self.active[inbound.id] = inbound
        try:
            await inbound.run()
        finally:
            self.active.pop(inbound.id, None)
            self._check_quiet()

    def _check_quiet(self) -> None:
        if not self.active and not self._outbound:
            self._quiet.set()

    async def transfer(self, call_id: str, kind: str, target: str) -> None:
        """Blind-transfer a connected call to a department, menu or number."""
        inbound = self.active.get(call_id)
        if inbound is None or inbound.agent_leg is None:
            raise CallNotActiveError(f"call {call_id} is not connected to an agent here")
        inbound.transfer_requests.put_nowait(Transfer(kind, target))

    def call_of(self, endpoint: str) -> InboundCall:
        """Return the call ENDPOINT's agent is connected to here (NotOnCallError if none)."""
        for inbound in self.active.values():
            if inbound.agent_endpoint == endpoint and inbound.agent_leg is not None:
                return inbound
        raise NotOnCallError(f"{endpoint} has no call connected here")

    def talking(self) -> list[CallLegs]:
        """Return the parties of every call here (inbound and click-to-call); not those of a
        call in an attended transfer: the agent holding the consultation leaves the caller's
        music and timeline alone."""
        legs = [
            CallLegs(i.id, i.call.id, i.agent_leg, _bridge(i.conversation))
            for i in self.active.values()
            if i.transfer.phase is Phase.TALKING
        ]
        legs += [
            CallLegs(o.id, o.customer_leg, o.agent_leg, _bridge(o.conversation))
            for o in self.outgoing.values()
        ]
        return legs

    def conversation_of(self, endpoint: str) -> tuple[str, Conversation]:
        """Return the call id and conversation ENDPOINT's agent is in (NotOnCallError if none)."""
        for inbound in self.active.values():
            if inbound.agent_endpoint == endpoint and inbound.conversation is not None:
                return inbound.id, inbound.conversation
        for outbound in self.outgoing.values():
            if outbound.agent == endpoint and outbound.conversation is not None:
                return outbound.id, outbound.conversation
        raise NotOnCallError(f"{endpoint} has no call connected here")

    def target(self, inbound: InboundCall, kind: str, name: str) -> Target:
        """Return where a transfer of INBOUND to a department or agent NAME goes (its rules)."""
        return resolve(inbound.rules.document, kind, name, inbound.agent_endpoint)

    def ask(self, inbound: InboundCall, request: Request) -> None:
        """Hand an agent's transfer REQUEST to INBOUND's flow, if it fits the call's state."""
        if inbound.agent_leg is None:
            raise NotOnCallError(f"call {inbound.id} is not connected to an agent")
        inbound.transfer.check(request)
        if request.action == "consult" and request.target is not None:
            # At once, so a second consult (or a complete too soon) is refused, not queued.
            inbound.moved(inbound.transfer.consulting(request.target.label))
        inbound.transfer_requests.put_nowait(request)

    async def place(
        self,
        agent: str,
        number: str,
        department: str | None = None,
        *,
        ended: Callable[[], None] | None = None,
    ) -> OutboundResult:
        """Click-to-call: ring AGENT's phone, then NUMBER; return once it is clear how it went
        (ENDED is called when the call is over, answered or not)."""
        outbound = OutboundCall(
            services=self.services,
            agent=agent,
            number=number,
            department=department,
            rules=self._rules(),
        )
        task = asyncio.create_task(self._run_outbound(outbound), name=f"outbound:{outbound.id}")
        self._outbound.add(task)
        self.outgoing[outbound.id] = outbound
        task.add_done_callback(lambda _: self.outgoing.pop(outbound.id, None))
        task.add_done_callback(self._outbound_done)
        task.add_done_callback(lambda _: outbound.line.release())  # even if it never ran
        if ended is not None:
            task.add_done_callback(lambda _: ended())
        return await outbound.settled()

    async def _run_outbound(self, outbound: OutboundCall) -> None:
        await outbound.run()
        inbound = outbound.taken_over
        if inbound is None:
            return
        # The agent's phone transferred the customer: their call goes on as an inbound one
        # (listed, transferable and monitored as those are).
        self.outgoing.pop(outbound.id, None)
        self.active[inbound.id] = inbound
        try:
            await outbound.go_on()
        finally:
            self.active.pop(inbound.id, None)

    def _outbound_done(self, task: asyncio.Task[None]) -> None:
        self._outbound.discard(task)
        self._check_quiet()

    async def on_resync(self, channels: list[Channel], bridges: list[Bridge]) -> None:
        """After a reconnect: adopt the conversations a dead daemon left bridged, restart
        waiting callers' flows, hang up orphaned legs.

        Other bridged channels are left talking; they end when either side hangs up.
        """
        with contextlib.suppress(AriError):
            await self.presence.refresh(self._agent_endpoints())
        followed = {inbound.call.id for inbound in self.active.values()} | self.legs.active
        followed |= self._monitoring()
        for bridge in bridges:
            if not followed.intersection(bridge.channels):
                followed |= await self._adopt_conversation(bridge, channels)
        talking = {
            member for bridge in bridges if len(bridge.channels) > 1 for member in bridge.channels
        }
        for channel in channels:
            # The other half of a Local channel we follow (`<id>;2`, e.g. an agent leg's) is
            # that party's, not an orphan: hanging it up would cut the conversation.
            half = channel.id.rsplit(";", 1)[0]
            if not {channel.id, half} & (followed | talking) and not self._our_snoop(channel.id):
                await self._adopt_or_drop(channel)
        for bridge in bridges:
            if not followed.intersection(bridge.channels):
                self.services.ari.spawn(self._watch_orphan(bridge), f"orphan:{bridge.id}")

    def _monitoring(self) -> set[str]:
        """Return the channels of the running monitor sessions (their own session ends them)."""
        sessions = self.monitors.sessions.values()
        return {c for s in sessions for c in (s.phone_channel, s.snoop_id) if c is not None}

    def _our_snoop(self, channel_id: str) -> bool:
        """Tell whether CHANNEL_ID is the snoop of a conversation this node follows
        (`snoop-<call>-<n>-caller|agent`): it records the call and must stay."""
        parts = channel_id.split("-")
        return len(parts) > 2 and parts[0] == "snoop" and parts[1] in self.active

    async def _adopt_conversation(self, bridge: Bridge, channels: list[Channel]) -> set[str]:
        """Adopt the caller-agent conversation of BRIDGE (ours: `conv-<call>-<n>`), if it is
        one; return the channels now followed (its members and snoops)."""
        found = CONVERSATION_BRIDGE.fullmatch(bridge.id)
        agents = [member for member in bridge.channels if member.startswith("agent-")]
        callers = [m for m in bridge.channels if not m.startswith(("agent-", "snoop-"))]
        if found is None or len(agents) > 1 or len(callers) != 1:
            return set()
        call_id, number = found.group(1), int(found.group(2))
        caller = next((c for c in channels if c.id == callers[0]), None)
        if caller is None:
            try:
                caller = await self.services.ari.channels.get(callers[0])
            except AriError:
                return set()
        self.adopted.add(call_id)
        agent = agents[0] if agents else None  # None: the agent hung up while we were away
        bridged = [callers[0], *agents]

        async def resume(call: Call) -> None:
            inbound = InboundCall(self.services, call, self._rules(), id=call_id)
            self.active[call_id] = inbound
            try:
                await inbound.resume(agent, number, bridged)
            finally:
                self.active.pop(call_id, None)
                self._check_quiet()

        log.info("call.adopted", call_id=call_id, channel_id=caller.id, bridge_id=bridge.id)
        self.services.ari.adopt(caller, resume)
        return {
            *bridge.channels,
            f"snoop-{call_id}-{number}-caller",
            f"snoop-{call_id}-{number}-agent",
        }

    async def _watch_orphan(self, bridge: Bridge) -> None:
        ari = self.services.ari
        if len(bridge.channels) > 1:
            waits = [asyncio.create_task(_gone(ari, member)) for member in bridge.channels]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()
            for member in bridge.channels:
                with contextlib.suppress(AriError):
                    await ari.channels.hangup(member)
        with contextlib.suppress(AriError):
            await ari.bridges.destroy(bridge.id)

    async def _adopt_or_drop(self, channel: Channel) -> None:
        ari = self.services.ari
        plan = channel.dialplan
        if plan is not None and plan.app_data.startswith(f"{ari.app},inbound"):
            log.info("call.adopted", channel_id=channel.id)
            ari.adopt(channel, self.on_call)
            return
        log.info("call.orphan_hung_up", channel_id=channel.id)
        with contextlib.suppress(AriError):
            await ari.channels.hangup(channel.id)

    async def drain(self, limit: float) -> None:
        """Take no new calls; wait up to LIMIT seconds for calls in progress to end."""
        self.accepting = False
        await self.monitors.close()  # supervisors leave first; the calls go on
        self._quiet.clear()
        self._check_quiet()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), limit)


async def _gone(ari: AriClient, channel_id: str) -> None:
    with contextlib.suppress(ChannelGoneError, AriError):
        await wait_for_hangup(ari, channel_id)


def _bridge(conversation: Conversation | None) -> str | None:
    """Return the bridge of CONVERSATION (None: no conversation now)."""
    return conversation.bridge_id if conversation is not None else None
