"""Outbound click-to-call: the agent's phone rings first, then the customer's number.

The agent hears music on hold while the customer's phone rings. Once the customer answers they
hear the outbound consent notice (when the call is recorded), then agent and customer are
bridged and recorded. How the attempt went (answered, busy, no answer, ...) is reported as
soon as it is known, while the conversation itself goes on in the background.

The agent's phone may transfer the customer (its transfer key: a SIP REFER, see `refer`) to a
department or menu of the rules: the conversation ends, the agent's leg is hung up, and the
customer goes on as an inbound call transferred there (`InboundCall.take_over`), on the same
call row and timeline, with the trunk's channel held until the customer's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

import structlog

from zentrale.base.clock import utcnow
from zentrale.calls.models import Direction, EventKind, Outcome
from zentrale.calls.store import CallUpdate, Hangup, NewCall
from zentrale.config.logging import bind_call
from zentrale.routing import engine
from zentrale.routing.engine import consent_notice
from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.steps import CallState, Step
from zentrale.telephony.ari import AriError, Call, ChannelGoneError
from zentrale.telephony.ari.primitives import (
    HangupCause,
    cause_subscription,
    hangup_cause,
    wait_for_hangup,
)
from zentrale.telephony.ari.subscriptions import Subscription
from zentrale.telephony.consent import play_notice
from zentrale.telephony.context import Services
from zentrale.telephony.conversation import Conversation
from zentrale.telephony.inbound import InboundCall
from zentrale.telephony.refer import hand_transfers_to_us, phone_transfer
from zentrale.telephony.ringing import Leg, RingResult, ring
from zentrale.telephony.trunks import LEGACY

log = structlog.get_logger(__name__)

_OUTCOMES = {
    RingResult.BUSY: Outcome.BUSY,
    RingResult.NO_ANSWER: Outcome.NO_ANSWER,
    RingResult.UNAVAILABLE: Outcome.FAILED,
    RingResult.CANCELLED: Outcome.ABANDONED,
}


@dataclass(frozen=True)
class OutboundResult:
    """How a click-to-call attempt went: `answered`, or who failed how."""

    call_id: str
    result: str
    """answered, agent_busy, agent_no_answer, agent_unavailable, busy, no_answer, unavailable."""


class OutboundCall:
    """One click-to-call attempt and, if answered, its conversation."""

    def __init__(
        self, services: Services, agent: str, number: str, department: str | None, rules: Rules
    ) -> None:
        self.services, self.agent, self.number = services, agent, number
        self.department, self.rules = department, rules
        # Which trunk, endpoint and caller ID; a number no trunk can dial and a full trunk are
        # refused here, before anything rings (NotANumberError, TrunkFullError).
        self.route = services.trunks.plan.outbound(number, department=department)
        self.line = services.trunks.take(self.route.trunk)
        self.number = self.route.number
        self.id = uuid.uuid4().hex
        self._settled: asyncio.Future[OutboundResult] = asyncio.get_running_loop().create_future()
        self.outcome = Outcome.FAILED
        self.cause = HangupCause()
        self._customer_end: Subscription | None = None
        self._legs: list[str] = []
        self.agent_leg: str | None = None
        self.customer_leg: str | None = None
        self.conversation: Conversation | None = None
        """The agent's and the customer's channels and their conversation, while they talk."""
        self.consent_played = False
        self._agent_on_call = False
        """The agent answered and their conversation has not ended on the timeline yet."""
        self.taken_over: InboundCall | None = None
        """The customer's flow once the agent's phone transferred them (see `go_on`)."""
        self._next_step: Step | None = None

    async def settled(self) -> OutboundResult:
        """Wait until it is known whether the customer answered."""
        return await asyncio.shield(self._settled)

    async def run(self) -> None:
        """Place the call and follow it to its end."""
        with bind_call(self.id):
            self._arrived()
            try:
                await self._call()
            except ChannelGoneError:
                log.info("outbound.hung_up")
            finally:
                if self.taken_over is None:
                    self.line.release()
                    await self._cleanup()

    async def go_on(self) -> None:
        """Follow the customer the agent's phone transferred to the end of their call (the
        trunk's channel is given back then)."""
        assert self.taken_over is not None
        assert self._next_step is not None
        try:
            await self.taken_over.take_over(self._next_step)
        finally:
            self.line.release()

    def _arrived(self) -> None:
        settings = self.services.settings
        self.services.journal.arrived(
            NewCall(
                id=self.id,
                direction=Direction.OUTBOUND,
                arrived_at=utcnow(),
                called_number=self.number,
                asterisk_node=settings.node,
                app_name=settings.ari.app,
                rules_version=self.rules.version,
            )
        )
        self.services.journal.update(
            self.id, CallUpdate(department=self.department, agent_endpoint=self.agent)
        )
        log.info("outbound.start", agent=self.agent, number=self.number)

    async def _call(self) -> None:
        agent = await self._ring(self.agent, f"outbound,{self.id}", self.number, "agent")
        if agent.result is not RingResult.ANSWERED:
            self.cause = agent.cause
            self._settle(f"agent_{agent.result}", _OUTCOMES.get(agent.result, Outcome.FAILED))
            return
        self.services.journal.event(self.id, EventKind.AGENT_ANSWERED, {"agent": self.agent})
        self._agent_on_call = True
        with contextlib.suppress(AriError):
            await self.services.ari.channels.moh_start(agent.channel_id)
        customer = await self._ring_customer(agent)
        if customer.result is not RingResult.ANSWERED:
            self.cause = customer.cause
            self._settle(str(customer.result), _OUTCOMES.get(customer.result, Outcome.FAILED))
            return
        self._customer_end = cause_subscription(self.services.ari, customer.channel_id)
        self._settle("answered", Outcome.ANSWERED)
        self.services.journal.update(
            self.id, CallUpdate(answered_by_app_at=utcnow(), agent_answered_at=utcnow())
        )
        await self._talk(agent, customer)

    async def _ring(
        self,
        endpoint: str,
        args: str,
        caller_id: str | None,
        prefix: str,
        trunk: bool = False,
        originator: str | None = None,
    ) -> Leg:
        self.services.journal.event(self.id, EventKind.AGENT_RUNG, {"to": prefix})
        leg = await ring(
            self.services.ari,
            endpoint,
            app_args=args,
            caller_id=caller_id,
            ring_seconds=30,
            prefix=prefix,
            silence_is_unreachable=trunk,  # a carrier that never answers: unreachable (18)
            originator=originator,  # the customer for the agent: their codecs
        )
        if leg.result is RingResult.ANSWERED:
            self._legs.append(leg.channel_id)
        return leg

    async def _ring_customer(self, agent: Leg) -> Leg:
        endpoint, caller_id = self.route.endpoint, self.route.caller_id
        trunk = self.route.trunk != LEGACY
        ringing = asyncio.create_task(
            self._ring(endpoint, f"dialled,{self.id}", caller_id, "out", trunk, agent.channel_id)
        )
        agent_gone = asyncio.create_task(_hangup(self.services, agent.channel_id))
        done, _ = await asyncio.wait({ringing, agent_gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (ringing, agent_gone):
            task.cancel()
        results = await asyncio.gather(ringing, agent_gone, return_exceptions=True)
        if ringing in done and isinstance(results[0], Leg):
            return results[0]
        return Leg("", endpoint, RingResult.CANCELLED)

    async def _language(self) -> str:
        """The language of the customer's record, else the rules' default (never fails)."""
        record = await self.services.customers(self.number)
        return record.get("language") or self.rules.document.languages.default

    async def _talk(self, agent: Leg, customer: Leg) -> None:
        ari, recorded = self.services.ari, self._recorded()
        with contextlib.suppress(AriError):
            await ari.channels.moh_stop(agent.channel_id)
        notice = consent_notice(self.rules, "outbound", self.department, await self._language())
        if recorded and notice:
            recorded = await play_notice(self.services, self.id, customer.channel_id, notice)
            self.consent_played = recorded
        conversation = Conversation(
            ari=ari,
            journal=self.services.journal,
            call_id=self.id,
            number=1,
            two_party=self.services.settings.recording.two_party,
        )
        try:
            await conversation.open(
                agent.channel_id,
                customer.channel_id,
                record=recorded,
                customer=customer.channel_id,
            )
            # Shown to the agent's page (recording, pause) once open: before, the page could
            # read "not recording" while the recording was being started.
            self.conversation = conversation
            self.agent_leg, self.customer_leg = agent.channel_id, customer.channel_id
            await hand_transfers_to_us(ari, agent.channel_id, self.agent)
            gone = [
                asyncio.create_task(_hangup(self.services, leg))
                for leg in (agent.channel_id, customer.channel_id)
            ]
            referred = asyncio.create_task(
                phone_transfer(ari, agent.channel_id, self.rules.document)
            )
            await asyncio.wait([*gone, referred], return_when=asyncio.FIRST_COMPLETED)
            for task in (*gone, referred):
                task.cancel()
            await asyncio.gather(*gone, referred, return_exceptions=True)
            if gone[1].done() and not gone[1].cancelled():
                return  # the customer hung up (maybe while the phone transferred): the end
            found = None
            if referred.done() and not referred.cancelled() and referred.exception() is None:
                found = referred.result()
            if isinstance(found, tuple):  # without consultations: no attended transfer here
                await self._take_over(agent.channel_id, customer.channel_id, *found)
        finally:
            self.agent_leg = self.customer_leg = self.conversation = None
            await conversation.close()

    async def _take_over(self, agent: str, customer: str, kind: str, target: str) -> None:
        """Hand the CUSTOMER to the flow of an inbound call transferred to KIND:TARGET; hang up
        the AGENT's leg."""
        ari = self.services.ari
        try:
            channel = await ari.channels.get(customer)
        except AriError:
            return  # gone meanwhile: the call ends as the customer's hang-up
        caller = Call(ari, channel, ["dialled", self.id])
        record = await self.services.customers(self.number)
        facts = CallFacts(
            at=self.services.clock(),
            caller=self.number,
            customer=record,
            direction="outbound",
        )
        state = CallState(
            rules=self.rules,
            facts=facts,
            language=record.get("language") or self.rules.document.languages.default,
            trail=("click-to-call",),
            department=self.department,
        )
        step = engine.transfer(state, kind, target)
        self.services.journal.event(self.id, EventKind.TRANSFER, {"to": f"{kind}:{target}"})
        log.info("outbound.transferred_by_phone", to=f"{kind}:{target}")
        self.taken_over = InboundCall(
            self.services,
            caller,
            self.rules,
            id=self.id,
            outcome=Outcome.TRANSFERRED,
            conversations=1,
            consent_played=self.consent_played,
            number=self.number,
        )
        self._next_step = step
        self._legs.remove(customer)  # the customer's channel is the new flow's now
        if self._customer_end is not None:
            self._customer_end.close()
            self._customer_end = None
        with contextlib.suppress(AriError):
            await ari.channels.hangup(agent)
        self._conversation_ended()

    def _conversation_ended(self) -> None:
        """End the agent's conversation on the timeline (once): the call's handle time runs
        from the agent's answer to here, whether the customer answered or not."""
        if self._agent_on_call:
            self._agent_on_call = False
            event = {"agent": self.agent}
            self.services.journal.event(self.id, EventKind.CONVERSATION_ENDED, event)

    def _recorded(self) -> bool:
        departments = self.rules.document.departments
        if self.department is None or self.department not in departments:
            return True
        return departments[self.department].recording

    def _settle(self, result: str, outcome: Outcome) -> None:
        self.outcome = outcome
        if not self._settled.done():
            self._settled.set_result(OutboundResult(self.id, result))
        log.info("outbound.settled", result=result)

    async def _cleanup(self) -> None:
        self._settle("failed", self.outcome)
        for channel_id in self._legs:
            with contextlib.suppress(AriError):
                await self.services.ari.channels.hangup(channel_id)
        ended_at = utcnow()  # the cause may come a moment after the end (ChannelDestroyed)
        self._conversation_ended()
        self.services.journal.event(self.id, EventKind.HANGUP)
        if self._customer_end is not None:
            # The customer's end says why the conversation ended (the cause stored on the call).
            with self._customer_end:
                self.cause = await hangup_cause(self._customer_end)
        cause = self.cause
        ended = Hangup(self.outcome, ended_at, cause_code=cause.code, cause_text=cause.text)
        self.services.journal.finished(self.id, ended)


async def _hangup(services: Services, channel_id: str) -> None:
    with contextlib.suppress(ChannelGoneError, AriError):
        await wait_for_hangup(services.ari, channel_id)
